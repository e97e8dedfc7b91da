import {createCipheriv, randomBytes} from 'node:crypto'
import {describe, expect, it} from 'vitest'
import {legacyIvHex, rebuildsFromIv} from '../../../src/channel-settings/consolidation/legacy-bytes.js'
import {decryptLegacy, encryptLegacy} from '../../../src/crypto/legacy-cbc.js'

describe('legacy value kept as its IV (consolidation 0002)', () => {
  it('a lower-case value that decrypts is rebuilt byte for byte from its IV and plaintext, at every padding length', () => {
    for (let length = 0; length <= 64; length++) {
      const key = randomBytes(32)
      const stored = encryptLegacy(key, randomBytes(length), randomBytes(16))
      expect(rebuildsFromIv(stored)).toBe(true)

      const rebuilt = encryptLegacy(key, decryptLegacy(key, stored), Buffer.from(legacyIvHex(stored), 'hex'))

      expect(rebuilt, `plaintext of ${length} bytes`).toBe(stored)
    }
  })

  it('a value spelled with upper-case hex still decrypts but would not rebuild, so it is kept verbatim', () => {
    const key = randomBytes(32)
    const stored = encryptLegacy(key, '{"accountSid":"AC1","authToken":"t"}', randomBytes(16)).toUpperCase()

    const rebuilt = encryptLegacy(key, decryptLegacy(key, stored), Buffer.from(legacyIvHex(stored), 'hex'))

    expect(rebuildsFromIv(stored)).toBe(false)
    expect(rebuilt).not.toBe(stored)
    expect(rebuilt).toBe(stored.toLowerCase())
  })

  it('padding that is not canonical does not decrypt, so no such value is ever kept as an IV', () => {
    const key = randomBytes(32)
    const iv = randomBytes(16)
    // One block ending in pad length 3 but with a different second-to-last byte: raw CBC without padding.
    const block = Buffer.alloc(16, 0x41)
    block[15] = 3
    block[14] = 3
    block[13] = 9
    const cipher = createCipheriv('aes-256-cbc', key, iv).setAutoPadding(false)
    const stored = `${iv.toString('hex')}:${Buffer.concat([cipher.update(block), cipher.final()]).toString('hex')}`

    expect(() => decryptLegacy(key, stored)).toThrow()
  })
})
