import {UsageError} from '../errors/engage-error.js'

/**
 * SMS segment counting, the way carriers (and Twilio's billing) count it.
 *
 * A body that fits the GSM 03.38 alphabet is sent as GSM-7: 160 septets in one
 * message, 153 per part once it is concatenated (the user data header takes 7).
 * Characters of the extension table are sent as ESC + char, so they cost two
 * septets, and the pair is never split across two parts. Any other character
 * forces UCS-2 for the whole body: 70 UTF-16 code units in one message, 67 per
 * part, and a surrogate pair (an emoji) is never split across two parts.
 */
export type SmsEncoding = 'GSM-7' | 'UCS-2'

export interface SmsSegmentCount {
  encoding: SmsEncoding
  /** Number of SMS parts the body is sent as (0 for an empty body). */
  segments: number
  /** Septets for GSM-7 (extension characters count 2), UTF-16 code units for UCS-2. */
  characters: number
  /** Capacity of one part with this encoding and segment count: 160/153 or 70/67. */
  perSegment: number
}

/** A campaign body longer than this many segments is refused before anything is queued. */
export const MAX_SMS_SEGMENTS = 10

export const GSM7_SINGLE_SEGMENT = 160
export const GSM7_CONCATENATED_SEGMENT = 153
export const UCS2_SINGLE_SEGMENT = 70
export const UCS2_CONCATENATED_SEGMENT = 67

// GSM 03.38 basic table, 0x00-0x7F, without 0x1B (ESC is not a character a body can carry).
const GSM7_BASIC = new Set(
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
    '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà',
)

// GSM 03.38 extension table (default language): each is sent as ESC + code.
const GSM7_EXTENSION = new Set('\f^{}\\[~]|€')

/** True when every character of `body` is in the GSM-7 basic or extension table. */
export function isGsm7(body: string): boolean {
  for (const char of body) {
    if (!GSM7_BASIC.has(char) && !GSM7_EXTENSION.has(char)) return false
  }
  return true
}

/**
 * Count the SMS segments of a body. Pure; see the module comment for the rules.
 * Segments are packed greedily so that an escape pair (GSM-7) or surrogate pair
 * (UCS-2) that would straddle a boundary moves whole into the next part, which
 * is why the count is not simply `ceil(characters / perSegment)`.
 */
export function countSmsSegments(body: string): SmsSegmentCount {
  // Units per code point: septets for GSM-7, UTF-16 code units for UCS-2.
  const gsm = isGsm7(body)
  const units: number[] = []
  for (const char of body) {
    if (gsm) units.push(GSM7_EXTENSION.has(char) ? 2 : 1)
    else units.push(char.length)
  }

  const characters = units.reduce((sum, n) => sum + n, 0)
  const single = gsm ? GSM7_SINGLE_SEGMENT : UCS2_SINGLE_SEGMENT
  const concatenated = gsm ? GSM7_CONCATENATED_SEGMENT : UCS2_CONCATENATED_SEGMENT
  const encoding: SmsEncoding = gsm ? 'GSM-7' : 'UCS-2'

  if (characters === 0) return {encoding, segments: 0, characters, perSegment: single}
  if (characters <= single) return {encoding, segments: 1, characters, perSegment: single}

  let segments = 1
  let used = 0
  for (const n of units) {
    if (used + n > concatenated) {
      segments++
      used = 0
    }
    used += n
  }
  return {encoding, segments, characters, perSegment: concatenated}
}

/**
 * Refuse a body that cannot be sent as one SMS campaign message: empty, or
 * more than {@link MAX_SMS_SEGMENTS} segments. Returns the count when it fits.
 * The error names the segments, encoding and limit, and never echoes the body.
 */
export function assertSmsBodyFits(body: string, maxSegments: number = MAX_SMS_SEGMENTS): SmsSegmentCount {
  const count = countSmsSegments(body)
  if (count.segments === 0) {
    throw new UsageError('The SMS body is empty.', {
      code: 'SMS_BODY_EMPTY',
      suggestions: ['Give the campaign a message body before sending it.'],
    })
  }
  if (count.segments > maxSegments) {
    const hint =
      count.encoding === 'UCS-2'
        ? 'It is sent as UCS-2 because it contains characters outside the GSM-7 alphabet (emoji, curly quotes, ...); replacing them halves its size.'
        : `Shorten it to at most ${maxSegments * GSM7_CONCATENATED_SEGMENT} septets (extension characters ^{}\\[~]|€ count 2).`
    throw new UsageError(
      `The SMS body needs ${count.segments} segments (${count.encoding}, ${count.characters} ${
        count.encoding === 'GSM-7' ? 'septets' : 'UTF-16 code units'
      }); the limit is ${maxSegments}.`,
      {
        code: 'SMS_BODY_TOO_LONG',
        suggestions: [hint],
        details: {...count, limit: maxSegments},
      },
    )
  }
  return count
}
