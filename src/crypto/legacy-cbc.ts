import {createCipheriv, createDecipheriv} from 'node:crypto'
import {EncryptionError} from '../errors/engage-error.js'

/**
 * The backend's legacy credential format (see shared/legacy/schema.sql):
 * AES-256-CBC, PKCS#7, stored as "<iv 32 hex>:<ciphertext hex>". Read during
 * the consolidation; written only by its `down`, to restore exact bytes.
 */
export function decryptLegacy(key: Buffer, stored: string): Buffer {
  const match = /^([0-9a-fA-F]{32}):((?:[0-9a-fA-F]{32})+)$/.exec(stored)
  if (!match) {
    throw new EncryptionError('The legacy value is not "<32 hex iv>:<hex ciphertext>".', {code: 'LEGACY_MALFORMED'})
  }
  try {
    const decipher = createDecipheriv('aes-256-cbc', key, Buffer.from(match[1]!, 'hex'))
    return Buffer.concat([decipher.update(Buffer.from(match[2]!, 'hex')), decipher.final()])
  } catch (error) {
    throw new EncryptionError('The legacy value does not decrypt (wrong key or damaged ciphertext).', {
      code: 'LEGACY_DECRYPT_FAILED',
      cause: error,
    })
  }
}

/** Legacy encryption with a given IV: same key, IV and plaintext give the same bytes. */
export function encryptLegacy(key: Buffer, plaintext: Buffer | string, iv: Buffer): string {
  const cipher = createCipheriv('aes-256-cbc', key, iv)
  const body = Buffer.concat([cipher.update(typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext), cipher.final()])
  return `${iv.toString('hex')}:${body.toString('hex')}`
}

export function legacyIv(stored: string): Buffer {
  return Buffer.from(stored.slice(0, 32), 'hex')
}
