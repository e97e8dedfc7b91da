import type {Database} from '../db/database.js'
import {translatePostgresError} from '../db/postgres.js'
import {translateSqliteError} from '../db/sqlite.js'
import {EngageError, isEngageError, MigrationError} from '../errors/engage-error.js'

/**
 * Turns whatever a run threw into an EngageError. Errors a migration raised
 * on purpose (EncryptionError, MigrationError, …) keep their class and exit
 * code; driver errors become DatabaseError (busy, unreachable) or a
 * MigrationError naming the migration that failed.
 */
export function toEngageError(error: unknown, database: Database, migration?: {name: string; direction: 'up' | 'down'}): EngageError {
  if (isEngageError(error)) return error
  const code = String((error as {code?: unknown})?.code ?? '')
  if (database.dialect === 'sqlite' && /^SQLITE_(BUSY|LOCKED|NOTADB|CORRUPT)/.test(code)) {
    return translateSqliteError(error, database.target.dialect === 'sqlite' ? database.target.path : database.target.display)
  }
  if (database.dialect === 'postgres' && /^(ECONN|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|EAI_AGAIN|57P0|08)/.test(code)) {
    return translatePostgresError(error, database.target.display)
  }
  const message = (error as Error)?.message ?? String(error)
  if (!migration) return new MigrationError(`Migration run failed: ${message}`, {code: 'MIGRATION_FAILED', cause: error})
  const verb = migration.direction === 'up' ? 'Applying' : 'Reverting'
  return new MigrationError(`${verb} ${migration.name} failed: ${message}. Its transaction was rolled back: nothing of it was kept.`, {
    code: 'MIGRATION_FAILED',
    cause: error,
    details: {migration: migration.name, direction: migration.direction, ...(code ? {driverCode: code} : {})},
    suggestions: ['Fix the cause and re-run; migrations before it stay applied. Use --log-level debug for the stack.'],
  })
}

/**
 * The same error, same class and exit code, with more non-secret details
 * (the per-migration results, so `--json` shows how far a run got).
 */
export function withDetails<E extends EngageError>(error: E, extra: Record<string, unknown>): E {
  const Class = error.constructor as new (message: string, options: ConstructorParameters<typeof EngageError>[1]) => E
  const copy = new Class(error.message, {
    code: error.code,
    suggestions: error.suggestions,
    cause: error.cause,
    details: {...error.details, ...extra},
  })
  copy.stack = error.stack
  return copy
}
