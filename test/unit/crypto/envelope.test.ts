import {randomBytes} from 'node:crypto'
import {describe, expect, it} from 'vitest'
import {Keyring, keyIdOf, type EncryptionKey} from '../../../src/crypto/encryption-key.js'
import {decryptField, decryptJson, encryptField, envelopeKeyId, parseEnvelope} from '../../../src/crypto/envelope.js'
import {EncryptionError} from '../../../src/errors/engage-error.js'

const makeKey = (): EncryptionKey => {
  const key = randomBytes(32)
  return {id: keyIdOf(key), key}
}
const context = {tenantId: 'ten_acme', channel: 'sms', field: 'credentials'}
const plaintext = JSON.stringify({accountSid: 'AC' + 'a'.repeat(32), authToken: randomBytes(16).toString('hex')})

/** Flips one bit of one base64url part of an envelope. */
function tamper(envelope: string, part: number): string {
  const parts = envelope.split('.')
  const bytes = Buffer.from(parts[part]!, 'base64url')
  bytes[0] = bytes[0]! ^ 0x01
  parts[part] = bytes.toString('base64url')
  return parts.join('.')
}

describe('ev1 envelope', () => {
  it('round-trips UTF-8 text and bytes', () => {
    const key = makeKey()
    expect(decryptField(key, encryptField(key, plaintext, context), context).toString('utf8')).toBe(plaintext)
    const unicode = 'Zoë 🚀 東京'
    expect(decryptField(key, encryptField(key, unicode, context), context).toString('utf8')).toBe(unicode)
    const raw = randomBytes(100)
    expect(decryptField(key, encryptField(key, raw, context), context).equals(raw)).toBe(true)
    expect(decryptField(key, encryptField(key, '', context), context).length).toBe(0)
    expect(decryptJson<{authToken: string}>(key, encryptField(key, plaintext, context), context)).toEqual(JSON.parse(plaintext))
  })

  it('has the ev1.<key id>.<iv>.<ciphertext>.<tag> shape and never contains the plaintext', () => {
    const key = makeKey()
    const envelope = encryptField(key, plaintext, context)
    expect(envelope).toMatch(/^ev1\.[0-9a-f]{8}\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/)
    expect(envelopeKeyId(envelope)).toBe(key.id)
    expect(parseEnvelope(envelope).body.length).toBe(Buffer.byteLength(plaintext))
    expect(envelope).not.toContain(JSON.parse(plaintext).authToken)
  })

  it('uses a fresh IV for every encryption', () => {
    const key = makeKey()
    const envelopes = new Set(Array.from({length: 200}, () => encryptField(key, plaintext, context)))
    const ivs = new Set([...envelopes].map((envelope) => envelope.split('.')[2]))
    expect(envelopes.size).toBe(200)
    expect(ivs.size).toBe(200)
  })

  it.each([
    ['iv', 2],
    ['ciphertext', 3],
    ['tag', 4],
  ])('rejects a flipped bit in the %s', (_name, part) => {
    const key = makeKey()
    const envelope = encryptField(key, plaintext, context)
    expect(() => decryptField(key, tamper(envelope, part), context)).toThrow(EncryptionError)
    expect(() => decryptField(key, tamper(envelope, part), context)).toThrow(/failed authentication/)
  })

  it('rejects a truncated tag or a malformed envelope', () => {
    const key = makeKey()
    const parts = encryptField(key, plaintext, context).split('.')
    const shortTag = [...parts.slice(0, 4), parts[4]!.slice(0, 10)].join('.')
    expect(() => decryptField(key, shortTag, context)).toThrow(EncryptionError)
    expect(() => decryptField(key, 'not-an-envelope', context)).toThrow(/not an engage ev1 envelope/)
    expect(() => decryptField(key, parts.slice(0, 4).join('.'), context)).toThrow(EncryptionError)
  })

  it.each([
    ['another tenant', {...context, tenantId: 'ten_other'}],
    ['another channel', {...context, channel: 'whatsapp'}],
    ['another field', {...context, field: 'webhook_secret'}],
    ['a shifted separator', {...context, tenantId: 'ten_acme\u001fsms', channel: ''}],
  ])('binds the value to its context: %s fails', (_name, other) => {
    const key = makeKey()
    const envelope = encryptField(key, plaintext, context)
    expect(() => decryptField(key, envelope, other)).toThrow(EncryptionError)
  })

  it('fails with ENCRYPTION_KEY_UNKNOWN for a key that is not configured, naming only its id', () => {
    const writer = makeKey()
    const reader = makeKey()
    const envelope = encryptField(writer, plaintext, context)
    const error = (() => {
      try {
        decryptField(reader, envelope, context)
      } catch (caught) {
        return caught as EncryptionError
      }
    })()
    expect(error?.code).toBe('ENCRYPTION_KEY_UNKNOWN')
    expect(error?.message).toContain(writer.id)
    expect(error?.message).not.toContain(writer.key.toString('hex'))
  })

  it('decrypts with the previous key of a keyring during a rotation, and encrypts with the current one', () => {
    const previous = makeKey()
    const current = makeKey()
    const old = encryptField(previous, plaintext, context)
    const keyring = new Keyring(current, [previous])
    expect(decryptField(keyring, old, context).toString('utf8')).toBe(plaintext)
    expect(envelopeKeyId(encryptField(keyring.current, plaintext, context))).toBe(current.id)
    expect(() => decryptField(new Keyring(current), old, context)).toThrow(/not configured/)
  })
})
