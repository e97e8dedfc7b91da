import {UsageError} from '../errors/engage-error.js'

/** Twilio SIDs are a two-letter type prefix and 32 hex characters (Twilio writes them lowercase). */
const SID_SHAPE = /^[0-9a-fA-F]{32}$/

export type SidPrefix = 'AC' | 'MG'

const SID_NAMES: Record<SidPrefix, string> = {AC: 'account SID', MG: 'messaging service SID'}

/** True when `value` is a Twilio SID of the given type (`AC…` account, `MG…` messaging service). */
export function isTwilioSid(value: string, prefix: SidPrefix): boolean {
  return value.length === 34 && value.startsWith(prefix) && SID_SHAPE.test(value.slice(2))
}

/**
 * Throws a UsageError naming the flag when `value` is not a SID of that type.
 * The message describes the shape only; SIDs are identifiers, not secrets, but
 * a mistyped value can be a pasted token, so it is never echoed.
 */
export function assertTwilioSid(value: string, prefix: SidPrefix, flag: string): string {
  const trimmed = value.trim()
  if (!isTwilioSid(trimmed, prefix)) {
    throw new UsageError(
      `${flag} is not a Twilio ${SID_NAMES[prefix]}: expected "${prefix}" followed by 32 hex characters (got ${trimmed.length} characters).`,
      {
        code: prefix === 'AC' ? 'INVALID_ACCOUNT_SID' : 'INVALID_MESSAGING_SERVICE_SID',
        suggestions: [`Copy the ${SID_NAMES[prefix]} from the Twilio console; it looks like ${prefix}0123456789abcdef0123456789abcdef.`],
      },
    )
  }
  return trimmed
}

/** Prompt validator form of isTwilioSid: true, or the message to show. */
export function validateTwilioSid(prefix: SidPrefix): (value: string) => true | string {
  return (value) =>
    isTwilioSid(value.trim(), prefix) || `A ${SID_NAMES[prefix]} is "${prefix}" followed by 32 hex characters.`
}
