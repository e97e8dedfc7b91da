import {describe, expect, it} from 'vitest'
import {
  emailProblem,
  isE164,
  isValidEmail,
  normalizeWhatsAppAddress,
  validateRecipient,
} from '../../../src/messaging/recipients.js'

describe('isE164', () => {
  it.each(['+14155550100', '+442071838750', '+12', '+123456789012345'])('accepts %s', (phone) => {
    expect(isE164(phone)).toBe(true)
  })

  it.each([
    ['no plus', '14155550100'],
    ['country code 0', '+04155550100'],
    ['16 digits', '+1234567890123456'],
    ['only a plus and one digit', '+1'],
    ['spaces', '+1 415 555 0100'],
    ['dashes', '+1-415-555-0100'],
    ['a prefix', 'whatsapp:+14155550100'],
    ['letters', '+1415CALLNOW'],
    ['a trailing newline', '+14155550100\n'],
    ['empty', ''],
  ])('rejects %s', (_label, phone) => {
    expect(isE164(phone)).toBe(false)
  })
})

describe('normalizeWhatsAppAddress', () => {
  it.each([
    ['+14155550100', 'whatsapp:+14155550100'],
    ['whatsapp:+14155550100', 'whatsapp:+14155550100'],
    ['WhatsApp:+14155550100', 'whatsapp:+14155550100'],
    [' +1 (415) 555-0100 ', 'whatsapp:+14155550100'],
    ['whatsapp:+44 20.7183.8750', 'whatsapp:+442071838750'],
  ])('normalizes %j to %s', (input, expected) => {
    expect(normalizeWhatsAppAddress(input)).toBe(expected)
  })

  it.each(['4155550100', 'whatsapp:4155550100', 'whatsapp:', 'sms:+14155550100', '+1415555010x', ''])('returns null for %j', (input) => {
    expect(normalizeWhatsAppAddress(input)).toBeNull()
  })
})

describe('isValidEmail', () => {
  it.each([
    'user@example.com',
    'first.last@sub.example.co.uk',
    "o'brien+tag@example.org",
    'x@a.io',
    '#!$%&*/=?^_`{|}~-@example.com',
    `${'a'.repeat(64)}@example.com`,
    'user@xn--bcher-kva.example', // punycode IDN
    'user@my-host.example',
  ])('accepts %s', (address) => {
    expect(isValidEmail(address)).toBe(true)
  })

  it.each([
    ['empty', '', /empty/],
    ['no @', 'user.example.com', /no @/],
    ['two @', 'a@b@example.com', /more than one @/],
    ['empty local part', '@example.com', /nothing before/],
    ['leading dot', '.user@example.com', /dot-atom/],
    ['trailing dot', 'user.@example.com', /dot-atom/],
    ['double dot', 'us..er@example.com', /dot-atom/],
    ['comma in local part', 'us,er@example.com', /dot-atom/],
    ['quoted local part', '"user"@example.com', /dot-atom/],
    ['space', 'us er@example.com', /whitespace/],
    ['tab', 'user@example.com\t', /whitespace/],
    ['local part of 65', `${'a'.repeat(65)}@example.com`, /longer than 64/],
    ['no domain', 'user@', /no domain/],
    ['domain without a dot', 'user@localhost', /no dot/],
    ['empty label', 'user@example..com', /domain label/],
    ['leading hyphen', 'user@-example.com', /domain label/],
    ['trailing hyphen', 'user@example-.com', /domain label/],
    ['underscore in domain', 'user@ex_ample.com', /domain label/],
    ['label of 64', `user@${'a'.repeat(64)}.com`, /domain label/],
    ['IP address', 'user@192.168.0.1', /numeric/],
    ['IP literal', 'user@[192.168.0.1]', /domain label/],
    ['non-ASCII', 'jörg@example.com', /non-ASCII/],
    ['over 254 in all', `${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.com`, /longer than 254/],
  ])('rejects %s', (_label, address, reason) => {
    expect(isValidEmail(address)).toBe(false)
    expect(emailProblem(address)).toMatch(reason)
  })

  it('accepts exactly 254 characters', () => {
    const address = `${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(57)}.com`
    expect(address).toHaveLength(254)
    expect(isValidEmail(address)).toBe(true)
  })
})

describe('validateRecipient', () => {
  it('returns null for a valid address per channel', () => {
    expect(validateRecipient('sms', '+14155550100')).toBeNull()
    expect(validateRecipient('whatsapp', '+14155550100')).toBeNull()
    expect(validateRecipient('whatsapp', 'whatsapp:+14155550100')).toBeNull()
    expect(validateRecipient('email', 'user@example.com')).toBeNull()
  })

  it('returns a reason that does not echo the address', () => {
    const reason = validateRecipient('sms', '206-555-0199')
    expect(reason).toMatch(/E\.164/)
    expect(reason).not.toContain('206')
    const emailReason = validateRecipient('email', 'secret.person@bad_domain.com')
    expect(emailReason).toMatch(/domain label/)
    expect(emailReason).not.toContain('secret.person')
    expect(emailReason).not.toContain('bad_domain')
  })

  it('does not accept a WhatsApp-prefixed number for SMS', () => {
    expect(validateRecipient('sms', 'whatsapp:+14155550100')).toMatch(/E\.164/)
  })

  it('does not accept an email for SMS or a phone for email', () => {
    expect(validateRecipient('sms', 'user@example.com')).not.toBeNull()
    expect(validateRecipient('email', '+14155550100')).toMatch(/no @/)
  })

  it('names the channels for an unknown one', () => {
    expect(validateRecipient('fax' as never, '+14155550100')).toBe('unknown channel "fax" (expected sms, whatsapp, email)')
  })
})
