import {describe, expect, it} from 'vitest'
import {assertE164, isE164, stripWhatsAppPrefix, validateE164} from '../../../src/validation/e164.js'

describe('E.164 validation', () => {
  it.each([
    ['+14155550123', true],
    ['+442079460000', true],
    ['+123456789012345', true],
    ['+1234567890123456', false],
    ['14155550123', false],
    ['+0123456789', false],
    ['+1 415 555 0123', false],
    ['+1-415-555-0123', false],
    ['whatsapp:+14155550123', false],
    ['+', false],
  ])('isE164(%s) is %s', (value, expected) => {
    expect(isE164(value)).toBe(expected)
  })

  it('strips the whatsapp: prefix, case-insensitively, only when present', () => {
    expect(stripWhatsAppPrefix('whatsapp:+14155550123')).toBe('+14155550123')
    expect(stripWhatsAppPrefix('WhatsApp:+14155550123')).toBe('+14155550123')
    expect(stripWhatsAppPrefix('+14155550123')).toBe('+14155550123')
  })

  it('assertE164 accepts the whatsapp: prefix only when allowed, and returns the bare number', () => {
    expect(assertE164('whatsapp:+14155550123', '--whatsapp-from', {allowWhatsAppPrefix: true})).toBe('+14155550123')
    expect(() => assertE164('whatsapp:+14155550123', '--from')).toThrow(/--from "whatsapp:\+14155550123" is not an E.164 phone number/)
  })

  it('validateE164 gives the prompt a hint', () => {
    expect(validateE164()('+14155550123')).toBe(true)
    expect(validateE164()('0207 946 0000')).toMatch(/E\.164/)
  })
})
