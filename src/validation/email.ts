import {UsageError} from '../errors/engage-error.js'

/**
 * A pragmatic address check for a sender (the SES "from"): one `@`, a local
 * part without spaces, and a dotted domain of letters, digits and hyphens.
 * SES itself decides whether the identity is verified; this only catches typos.
 */
const EMAIL = /^[^\s@<>()",;:]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/

export function isEmailAddress(value: string): boolean {
  return value.length <= 254 && EMAIL.test(value)
}

export function assertEmailAddress(value: string, flag: string): string {
  const trimmed = value.trim()
  if (!isEmailAddress(trimmed)) {
    throw new UsageError(`${flag} "${trimmed}" is not an email address.`, {
      code: 'INVALID_EMAIL',
      suggestions: ['Pass the verified SES identity to send from, e.g. --from notifications@example.com.'],
    })
  }
  return trimmed
}

export function validateEmailAddress(value: string): true | string {
  return isEmailAddress(value.trim()) || 'Enter an email address such as notifications@example.com.'
}
