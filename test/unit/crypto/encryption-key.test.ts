import {randomBytes} from 'node:crypto'
import {describe, expect, it} from 'vitest'
import {Keyring, keyIdOf, parseEncryptionKey} from '../../../src/crypto/encryption-key.js'
import {EncryptionError} from '../../../src/errors/engage-error.js'

function parseError(raw: string | undefined): EncryptionError {
  try {
    parseEncryptionKey(raw)
  } catch (error) {
    return error as EncryptionError
  }
  throw new Error('parseEncryptionKey accepted the value')
}

describe('parseEncryptionKey', () => {
  it('accepts 64 hex characters (either case, surrounding whitespace)', () => {
    const key = randomBytes(32)
    expect(parseEncryptionKey(key.toString('hex')).key.equals(key)).toBe(true)
    expect(parseEncryptionKey(` ${key.toString('hex').toUpperCase()}\n`).key.equals(key)).toBe(true)
    expect(parseEncryptionKey(key.toString('hex')).id).toBe(keyIdOf(key))
  })

  it('accepts base64 and base64url', () => {
    const key = randomBytes(32)
    expect(parseEncryptionKey(key.toString('base64')).key.equals(key)).toBe(true)
    expect(parseEncryptionKey(key.toString('base64url')).key.equals(key)).toBe(true)
  })

  it.each([
    ['missing', undefined, 'ENCRYPTION_KEY_MISSING', /is not set/],
    ['empty', '   ', 'ENCRYPTION_KEY_MISSING', /is not set/],
    ['31 bytes of hex', randomBytes(31).toString('hex'), 'ENCRYPTION_KEY_MALFORMED', /31 bytes/],
    ['33 bytes of hex', randomBytes(33).toString('hex'), 'ENCRYPTION_KEY_MALFORMED', /33 bytes/],
    ['31 bytes of base64', randomBytes(31).toString('base64'), 'ENCRYPTION_KEY_MALFORMED', /31 bytes/],
    ['33 bytes of base64', randomBytes(33).toString('base64'), 'ENCRYPTION_KEY_MALFORMED', /33 bytes/],
    ['neither hex nor base64', 'this is not a key: ' + randomBytes(8).toString('hex') + '!', 'ENCRYPTION_KEY_MALFORMED', /neither hex nor base64/],
  ])('refuses a key that is %s, without echoing it', (_name, raw, code, message) => {
    const error = parseError(raw)
    expect(error).toBeInstanceOf(EncryptionError)
    expect(error.code).toBe(code)
    expect(error.exitCode).toBe(5)
    expect(error.message).toMatch(message)
    if (raw && raw.trim()) {
      expect(error.message).not.toContain(raw.trim())
      expect(JSON.stringify(error.toJSON())).not.toContain(raw.trim())
      expect(error.suggestions.join(' ')).not.toContain(raw.trim())
    }
  })

  it('names the variable it parsed', () => {
    expect(() => parseEncryptionKey(undefined, 'ENCRYPTION_KEY_PREVIOUS')).toThrow(/ENCRYPTION_KEY_PREVIOUS is not set/)
  })
})

describe('Keyring', () => {
  it('reads ENCRYPTION_KEY and ENCRYPTION_KEY_PREVIOUS and finds both by id', () => {
    const current = randomBytes(32)
    const previous = randomBytes(32)
    const env: Record<string, string> = {ENCRYPTION_KEY: current.toString('hex'), ENCRYPTION_KEY_PREVIOUS: previous.toString('base64')}
    const keyring = Keyring.fromSettings((name) => env[name])
    expect(keyring.current.key.equals(current)).toBe(true)
    expect(keyring.find(keyIdOf(previous))?.key.equals(previous)).toBe(true)
    expect(keyring.ids).toEqual([keyIdOf(current), keyIdOf(previous)])
  })

  it('ignores a previous key equal to the current one, and refuses a malformed previous key', () => {
    const current = randomBytes(32).toString('hex')
    expect(Keyring.fromSettings((name) => ({ENCRYPTION_KEY: current, ENCRYPTION_KEY_PREVIOUS: current})[name]).previous).toEqual([])
    expect(() => Keyring.fromSettings((name) => ({ENCRYPTION_KEY: current, ENCRYPTION_KEY_PREVIOUS: 'abc'})[name])).toThrow(
      /ENCRYPTION_KEY_PREVIOUS/,
    )
  })
})
