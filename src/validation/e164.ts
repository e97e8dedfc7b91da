import {UsageError} from '../errors/engage-error.js'

/** E.164: a plus sign, a non-zero country digit, at most 15 digits in all. */
const E164 = /^\+[1-9][0-9]{1,14}$/

export const WHATSAPP_PREFIX = 'whatsapp:'

export function isE164(value: string): boolean {
  return E164.test(value)
}

/** A WhatsApp address without its `whatsapp:` channel prefix (Twilio's form for senders and recipients). */
export function stripWhatsAppPrefix(value: string): string {
  return value.toLowerCase().startsWith(WHATSAPP_PREFIX) ? value.slice(WHATSAPP_PREFIX.length) : value
}

/**
 * Returns the number in E.164 or throws a UsageError naming the flag. With
 * `allowWhatsAppPrefix`, `whatsapp:+15551234567` is accepted and stored bare.
 */
export function assertE164(value: string, flag: string, options: {allowWhatsAppPrefix?: boolean} = {}): string {
  const trimmed = value.trim()
  const number = options.allowWhatsAppPrefix ? stripWhatsAppPrefix(trimmed) : trimmed
  if (!isE164(number)) {
    throw new UsageError(`${flag} "${trimmed}" is not an E.164 phone number.`, {
      code: 'INVALID_E164',
      suggestions: ['Write the number as + country code and digits, no spaces: +14155550123.'],
    })
  }
  return number
}

/** Prompt validator form of assertE164. */
export function validateE164(options: {allowWhatsAppPrefix?: boolean} = {}): (value: string) => true | string {
  return (value) => {
    const trimmed = value.trim()
    return isE164(options.allowWhatsAppPrefix ? stripWhatsAppPrefix(trimmed) : trimmed) || 'Use E.164: + country code and digits, e.g. +14155550123.'
  }
}
