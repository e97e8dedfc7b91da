/**
 * Recipient address checks run before anything is queued: a message that
 * cannot be delivered must be refused at enqueue time, not discovered by the
 * sender Lambda after a receive. These are pure functions; callers turn a
 * reason into an error or a per-row rejection.
 */
export type MessagingChannel = 'sms' | 'whatsapp' | 'email'

export const MESSAGING_CHANNELS: readonly MessagingChannel[] = ['sms', 'whatsapp', 'email']

// ITU-T E.164: "+", a country code that does not start with 0, at most 15 digits in all.
// The same pattern Twilio documents for its `To` parameter.
const E164 = /^\+[1-9]\d{1,14}$/

/** True when `phone` is a strict E.164 number (`+14155550100`): no spaces, dashes or prefix. */
export function isE164(phone: string): boolean {
  return E164.test(phone)
}

const WHATSAPP_PREFIX = /^whatsapp:/i
// Separators people paste from address books; anything else makes the number invalid.
const PHONE_SEPARATORS = /[\s().-]/g

/**
 * Turn a WhatsApp recipient into the `whatsapp:+E164` form Twilio expects, or
 * null when it is not one. Accepts the bare number or the prefixed form
 * (prefix case-insensitive) and drops spaces, dots, dashes and parentheses; it
 * never guesses a missing country code, because a wrong guess reaches a stranger.
 */
export function normalizeWhatsAppAddress(address: string): string | null {
  const number = address.trim().replace(WHATSAPP_PREFIX, '').replace(PHONE_SEPARATORS, '')
  return isE164(number) ? `whatsapp:${number}` : null
}

export const EMAIL_MAX_LENGTH = 254 // RFC 5321 path limit (256) minus the angle brackets
export const EMAIL_LOCAL_MAX_LENGTH = 64
export const EMAIL_DOMAIN_MAX_LENGTH = 253

// RFC 5322 atext; a dot-atom is runs of atext separated by single dots.
const DOT_ATOM = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/
const DOMAIN_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/

/**
 * Explain why `address` is not a sendable email address, or return null when
 * it is. A pragmatic RFC 5322 subset: exactly one `@`; a dot-atom local part of
 * at most 64 characters (no quoted strings, no comments); a domain of at least
 * two DNS labels (letters, digits, inner hyphens, at most 63 each, 253 in all)
 * with a non-numeric top label (no IP literals); 254 characters overall; ASCII
 * only (SES wants internationalised domains in punycode and does not accept
 * UTF-8 local parts).
 */
export function emailProblem(address: string): string | null {
  if (address.length === 0) return 'the email address is empty'
  if (address.length > EMAIL_MAX_LENGTH) return `the email address is longer than ${EMAIL_MAX_LENGTH} characters`
  if (/\s/.test(address)) return 'the email address contains whitespace'
  // Code points above 0x7E (and controls) are refused: see the doc comment.
  if (/[^\x21-\x7e]/.test(address)) return 'the email address contains non-ASCII or control characters'
  const at = address.indexOf('@')
  if (at === -1) return 'the email address has no @'
  if (address.indexOf('@', at + 1) !== -1) return 'the email address has more than one @'
  const local = address.slice(0, at)
  const domain = address.slice(at + 1)
  if (local.length === 0) return 'the email address has nothing before the @'
  if (local.length > EMAIL_LOCAL_MAX_LENGTH) return `the part before the @ is longer than ${EMAIL_LOCAL_MAX_LENGTH} characters`
  if (!DOT_ATOM.test(local)) return 'the part before the @ is not a dot-atom (leading, trailing or double dot, or a character such as , ; : " < > ( ) [ ] \\)'
  if (domain.length === 0) return 'the email address has no domain'
  if (domain.length > EMAIL_DOMAIN_MAX_LENGTH) return `the domain is longer than ${EMAIL_DOMAIN_MAX_LENGTH} characters`
  const labels = domain.split('.')
  if (labels.length < 2) return 'the domain has no dot'
  for (const label of labels) {
    if (!DOMAIN_LABEL.test(label)) return 'a domain label is empty, longer than 63 characters, or has a character other than letters, digits and inner hyphens'
  }
  if (/^\d+$/.test(labels[labels.length - 1] ?? '')) return 'the domain ends in a numeric label (IP addresses are not accepted)'
  return null
}

/** True when `address` passes {@link emailProblem}. */
export function isValidEmail(address: string): boolean {
  return emailProblem(address) === null
}

/**
 * Check one recipient address for a channel. Returns a human-readable reason
 * (safe to show: it names the rule and never echoes the address) or null
 * when the address can be queued as is. WhatsApp accepts the bare or
 * `whatsapp:`-prefixed number; call {@link normalizeWhatsAppAddress} to get
 * the form to send.
 */
export function validateRecipient(channel: MessagingChannel, address: string): string | null {
  switch (channel) {
    case 'sms':
      return isE164(address) ? null : 'the phone number is not in E.164 format (+ then country code and number, up to 15 digits, e.g. +14155550100)'
    case 'whatsapp': {
      const number = address.replace(WHATSAPP_PREFIX, '')
      return isE164(number) ? null : 'the WhatsApp number is not in E.164 format (+ then country code and number, optionally prefixed whatsapp:)'
    }
    case 'email':
      return emailProblem(address)
    default:
      return `unknown channel "${String(channel)}" (expected ${MESSAGING_CHANNELS.join(', ')})`
  }
}
