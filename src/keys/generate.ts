import {randomBytes} from 'node:crypto'
import {keyIdOf} from '../crypto/encryption-key.js'

export interface GeneratedKey {
  /** 32 random bytes as 64 hex characters: the value for ENCRYPTION_KEY. */
  key: string
  /** The id envelopes written with it will carry (not secret). */
  keyId: string
}

/** A new AES-256 key from the operating system's CSPRNG. */
export function generateKey(): GeneratedKey {
  const key = randomBytes(32)
  return {key: key.toString('hex'), keyId: keyIdOf(key)}
}
