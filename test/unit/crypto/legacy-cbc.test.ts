import {createCipheriv, randomBytes} from 'node:crypto'
import {describe, expect, it} from 'vitest'
import {decryptLegacy, encryptLegacy, legacyIv} from '../../../src/crypto/legacy-cbc.js'
import {EncryptionError} from '../../../src/errors/engage-error.js'

const key = randomBytes(32)
const plaintext = JSON.stringify({accountSid: 'AC' + '0'.repeat(32), authToken: randomBytes(16).toString('hex')})

describe('legacy AES-256-CBC', () => {
  it('reads what the backend wrote: "<iv hex>:<ciphertext hex>", PKCS#7', () => {
    // Written independently of encryptLegacy, the way the backend's Node code does it.
    const iv = randomBytes(16)
    const cipher = createCipheriv('aes-256-cbc', key, iv)
    const stored = `${iv.toString('hex')}:${cipher.update(plaintext, 'utf8', 'hex')}${cipher.final('hex')}`
    expect(decryptLegacy(key, stored).toString('utf8')).toBe(plaintext)
    expect(legacyIv(stored).equals(iv)).toBe(true)
  })

  it('round-trips, and rebuilds the exact stored bytes from the plaintext and the same IV', () => {
    const iv = randomBytes(16)
    const stored = encryptLegacy(key, plaintext, iv)
    expect(decryptLegacy(key, stored).toString('utf8')).toBe(plaintext)
    expect(encryptLegacy(key, decryptLegacy(key, stored), legacyIv(stored))).toBe(stored)
    expect(encryptLegacy(key, plaintext, randomBytes(16))).not.toBe(stored)
  })

  it('refuses a value that is not "<32 hex>:<hex blocks>"', () => {
    const stored = encryptLegacy(key, plaintext, randomBytes(16))
    for (const bad of ['', 'plain text', stored.replace(':', ''), stored.slice(0, -2), `${stored}zz`]) {
      expect(() => decryptLegacy(key, bad)).toThrow(EncryptionError)
    }
  })

  it('fails on a wrong key or damaged last block (bad padding) with LEGACY_DECRYPT_FAILED', () => {
    const stored = encryptLegacy(key, plaintext, randomBytes(16))
    // A wrong key passes the padding check about 1 time in 256; try several keys and expect most to fail.
    const failures = Array.from({length: 20}, () => randomBytes(32)).filter((other) => {
      try {
        decryptLegacy(other, stored)
        return false
      } catch (error) {
        return (error as EncryptionError).code === 'LEGACY_DECRYPT_FAILED'
      }
    }).length
    expect(failures).toBeGreaterThanOrEqual(15)
  })
})
