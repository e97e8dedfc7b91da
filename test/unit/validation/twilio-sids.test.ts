import {describe, expect, it} from 'vitest'
import {UsageError} from '../../../src/errors/engage-error.js'
import {assertTwilioSid, isTwilioSid, validateTwilioSid} from '../../../src/validation/twilio-sids.js'

const hex32 = '0123456789abcdef0123456789abcdef'

describe('Twilio SID validation', () => {
  it.each([
    [`AC${hex32}`, 'AC', true],
    [`MG${hex32}`, 'MG', true],
    [`AC${hex32.toUpperCase()}`, 'AC', true],
    [`MG${hex32}`, 'AC', false],
    [`AC${hex32.slice(1)}`, 'AC', false],
    [`AC${hex32}0`, 'AC', false],
    [`AC${hex32.slice(1)}g`, 'AC', false],
    [`ac${hex32}`, 'AC', false],
    ['', 'MG', false],
  ] as const)('isTwilioSid(%s, %s) is %s', (value, prefix, expected) => {
    expect(isTwilioSid(value, prefix)).toBe(expected)
  })

  it('assertTwilioSid trims and returns a good SID', () => {
    expect(assertTwilioSid(`  AC${hex32}\n`, 'AC', '--account-sid')).toBe(`AC${hex32}`)
  })

  it('assertTwilioSid names the flag and the shape, without echoing the value', () => {
    const pasted = 'this-looks-like-a-pasted-auth-token'
    const error = (() => {
      try {
        assertTwilioSid(pasted, 'AC', '--account-sid')
      } catch (caught) {
        return caught
      }
    })() as UsageError

    expect(error).toBeInstanceOf(UsageError)
    expect(error.exitCode).toBe(2)
    expect(error.code).toBe('INVALID_ACCOUNT_SID')
    expect(error.message).toContain('--account-sid')
    expect(error.message).not.toContain(pasted)
  })

  it('validateTwilioSid answers true or a message for the prompt', () => {
    expect(validateTwilioSid('MG')(`MG${hex32}`)).toBe(true)
    expect(validateTwilioSid('MG')('MG123')).toMatch(/"MG" followed by 32 hex characters/)
  })
})
