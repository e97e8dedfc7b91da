/**
 * The one error base class of engage. Every known failure carries a stable
 * `code` (for scripts and `--json`), the process `exitCode` it maps to, and
 * `suggestions` telling the operator what to do next. Messages never contain
 * secrets: callers redact before they construct an error.
 */
export interface EngageErrorOptions {
  code: string
  suggestions?: string[]
  cause?: unknown
  /** Extra, non-secret facts for `--json` output (row ids, table names, ...). */
  details?: Record<string, unknown>
}

export class EngageError extends Error {
  /** Exit code of the class; subclasses override. Documented in the README. */
  static readonly exitCode: number = 1
  readonly code: string
  readonly suggestions: string[]
  readonly details?: Record<string, unknown>

  constructor(message: string, options: EngageErrorOptions) {
    super(message, options.cause === undefined ? undefined : {cause: options.cause})
    this.name = 'EngageError'
    this.code = options.code
    this.suggestions = options.suggestions ?? []
    this.details = options.details
  }

  get exitCode(): number {
    return (this.constructor as typeof EngageError).exitCode
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      exitCode: this.exitCode,
      suggestions: this.suggestions,
      ...(this.details ? {details: this.details} : {}),
    }
  }
}

/** Bad flags, bad configuration values, missing input. Exit 2. */
export class UsageError extends EngageError {
  static override readonly exitCode = 2
  constructor(message: string, options: EngageErrorOptions) {
    super(message, options)
    this.name = 'UsageError'
  }
}

/** The database cannot be opened, reached, or is not what it should be. Exit 3. */
export class DatabaseError extends EngageError {
  static override readonly exitCode = 3
  constructor(message: string, options: EngageErrorOptions) {
    super(message, options)
    this.name = 'DatabaseError'
  }
}

/** A migration refused to run, drifted, or failed its own verification. Exit 4. */
export class MigrationError extends EngageError {
  static override readonly exitCode = 4
  constructor(message: string, options: EngageErrorOptions) {
    super(message, options)
    this.name = 'MigrationError'
  }
}

/** Encryption keys missing, malformed or wrong; a value that does not decrypt. Exit 5. */
export class EncryptionError extends EngageError {
  static override readonly exitCode = 5
  constructor(message: string, options: EngageErrorOptions) {
    super(message, options)
    this.name = 'EncryptionError'
  }
}

/** A provider (Twilio, SES, SQS) refused, failed verification, or was unreachable. Exit 6. */
export class ProviderError extends EngageError {
  static override readonly exitCode = 6
  constructor(message: string, options: EngageErrorOptions) {
    super(message, options)
    this.name = 'ProviderError'
  }
}

/** Something that should exist does not (tenant, campaign, setting). Exit 7. */
export class NotFoundError extends EngageError {
  static override readonly exitCode = 7
  constructor(message: string, options: EngageErrorOptions) {
    super(message, options)
    this.name = 'NotFoundError'
  }
}

/** The operator interrupted the command (Ctrl-C at a prompt). Exit 130. */
export class InterruptedError extends EngageError {
  static override readonly exitCode = 130
  constructor(message = 'Interrupted', options: EngageErrorOptions = {code: 'INTERRUPTED'}) {
    super(message, options)
    this.name = 'InterruptedError'
  }
}

export function isEngageError(error: unknown): error is EngageError {
  return error instanceof EngageError
}
