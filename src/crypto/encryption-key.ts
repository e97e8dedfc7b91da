import {createHash} from 'node:crypto'
import {EncryptionError} from '../errors/engage-error.js'

/** A 32-byte AES key and the short id stamped into every envelope it writes. */
export interface EncryptionKey {
  readonly id: string
  readonly key: Buffer
}

/**
 * Parses `ENCRYPTION_KEY` (or `ENCRYPTION_KEY_PREVIOUS`): 32 bytes given as 64
 * hex characters or as base64. Errors say what is wrong with the shape, never
 * the value.
 */
export function parseEncryptionKey(raw: string | undefined, variable = 'ENCRYPTION_KEY'): EncryptionKey {
  if (raw === undefined || raw.trim() === '') {
    throw new EncryptionError(`${variable} is not set.`, {
      code: 'ENCRYPTION_KEY_MISSING',
      suggestions: [`Set ${variable} to the 32-byte key (64 hex characters or base64); \`engage keys generate\` makes one.`],
    })
  }
  const value = raw.trim()
  let key: Buffer | undefined
  if (/^[0-9a-fA-F]+$/.test(value) && value.length % 2 === 0 && value.length >= 60) {
    key = Buffer.from(value, 'hex')
  } else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(value)) {
    key = Buffer.from(value.replace(/-/g, '+').replace(/_/g, '/'), 'base64')
  }
  if (key === undefined) {
    throw new EncryptionError(`${variable} is neither hex nor base64 (${value.length} characters).`, {
      code: 'ENCRYPTION_KEY_MALFORMED',
      suggestions: [`${variable} must be 32 bytes: 64 hex characters, or 44 base64 characters.`],
    })
  }
  if (key.length !== 32) {
    throw new EncryptionError(`${variable} decodes to ${key.length} bytes; AES-256 needs exactly 32.`, {
      code: 'ENCRYPTION_KEY_MALFORMED',
      suggestions: [`${variable} must be 32 bytes: 64 hex characters, or 44 base64 characters.`],
    })
  }
  return {id: keyIdOf(key), key}
}

/** A non-secret fingerprint of a key: 8 hex characters of a domain-separated SHA-256. */
export function keyIdOf(key: Buffer): string {
  return createHash('sha256').update('engage-key-id\0').update(key).digest('hex').slice(0, 8)
}

/**
 * The keys in force: `current` encrypts; `previous` (during a rotation) only
 * decrypts. Looked up by the key id in each envelope.
 */
export class Keyring {
  private readonly byId = new Map<string, EncryptionKey>()

  constructor(
    readonly current: EncryptionKey,
    readonly previous: EncryptionKey[] = [],
  ) {
    for (const key of [current, ...previous]) this.byId.set(key.id, key)
  }

  /** Reads ENCRYPTION_KEY and, when set, ENCRYPTION_KEY_PREVIOUS. */
  static fromSettings(get: (name: string) => string | undefined): Keyring {
    const current = parseEncryptionKey(get('ENCRYPTION_KEY'), 'ENCRYPTION_KEY')
    const previousRaw = get('ENCRYPTION_KEY_PREVIOUS')
    const previous = previousRaw ? [parseEncryptionKey(previousRaw, 'ENCRYPTION_KEY_PREVIOUS')] : []
    return new Keyring(current, previous.filter((key) => key.id !== current.id))
  }

  find(id: string): EncryptionKey | undefined {
    return this.byId.get(id)
  }

  get ids(): string[] {
    return [...this.byId.keys()]
  }
}
