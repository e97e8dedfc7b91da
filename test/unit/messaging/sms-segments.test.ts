import {describe, expect, it} from 'vitest'
import {UsageError} from '../../../src/errors/engage-error.js'
import {MAX_SMS_SEGMENTS, assertSmsBodyFits, countSmsSegments, isGsm7} from '../../../src/messaging/sms-segments.js'

const EMOJI = '😀' // U+1F600: one code point, two UTF-16 code units

describe('isGsm7', () => {
  it('accepts the basic table including its non-ASCII letters and symbols', () => {
    expect(isGsm7('Hello @ £5, ¥ Ç Ø å Δ Φ Γ Λ Ω Π Ψ Σ Θ Ξ Æ ß É ¤ ¡ Ä Ö Ñ Ü § ¿ ä ö ñ ü à\r\n')).toBe(true)
  })

  it('accepts the extension table', () => {
    expect(isGsm7('^{}\\[~]|€\f')).toBe(true)
  })

  it('rejects characters outside GSM-7 that look harmless', () => {
    expect(isGsm7('it’s')).toBe(false) // curly apostrophe U+2019
    expect(isGsm7('`')).toBe(false) // backtick is not in GSM 03.38
    expect(isGsm7('ç')).toBe(false) // only the capital Ç is in the basic table
    expect(isGsm7('\t')).toBe(false)
    expect(isGsm7(EMOJI)).toBe(false)
  })
})

describe('countSmsSegments, GSM-7', () => {
  it('counts an empty body as zero segments', () => {
    expect(countSmsSegments('')).toEqual({encoding: 'GSM-7', segments: 0, characters: 0, perSegment: 160})
  })

  it('fits 160 septets in one segment and splits 161 into two of 153', () => {
    expect(countSmsSegments('a'.repeat(160))).toEqual({encoding: 'GSM-7', segments: 1, characters: 160, perSegment: 160})
    expect(countSmsSegments('a'.repeat(161))).toEqual({encoding: 'GSM-7', segments: 2, characters: 161, perSegment: 153})
  })

  it('fits exactly 153 × n septets in n segments and one more in n + 1', () => {
    for (const n of [2, 3, 7, 10]) {
      expect(countSmsSegments('a'.repeat(153 * n)).segments).toBe(n)
      expect(countSmsSegments('a'.repeat(153 * n + 1)).segments).toBe(n + 1)
    }
  })

  it('counts extension characters as two septets', () => {
    expect(countSmsSegments('€'.repeat(80))).toEqual({encoding: 'GSM-7', segments: 1, characters: 160, perSegment: 160})
    expect(countSmsSegments('a'.repeat(159) + '€')).toEqual({encoding: 'GSM-7', segments: 2, characters: 161, perSegment: 153})
  })

  it('moves an escape pair that would straddle a segment boundary whole into the next segment', () => {
    // 152 + 2 = 154 septets: the € cannot start at septet 153 of part one.
    const straddling = 'a'.repeat(152) + '€' + 'a'.repeat(152)
    expect(countSmsSegments(straddling)).toEqual({encoding: 'GSM-7', segments: 3, characters: 306, perSegment: 153})
    // Same septet count, but the € ends exactly at septet 153: two parts.
    const aligned = 'a'.repeat(151) + '€' + 'a'.repeat(153)
    expect(countSmsSegments(aligned)).toEqual({encoding: 'GSM-7', segments: 2, characters: 306, perSegment: 153})
  })
})

describe('countSmsSegments, UCS-2', () => {
  it('switches the whole body to UCS-2 for one non-GSM character', () => {
    expect(countSmsSegments('a'.repeat(69) + 'ç')).toEqual({encoding: 'UCS-2', segments: 1, characters: 70, perSegment: 70})
  })

  it('fits 70 code units in one segment and splits 71 into two of 67', () => {
    expect(countSmsSegments('Ж'.repeat(70)).segments).toBe(1)
    expect(countSmsSegments('Ж'.repeat(71))).toEqual({encoding: 'UCS-2', segments: 2, characters: 71, perSegment: 67})
    expect(countSmsSegments('Ж'.repeat(134)).segments).toBe(2)
    expect(countSmsSegments('Ж'.repeat(135)).segments).toBe(3)
  })

  it('counts an emoji as two code units', () => {
    expect(countSmsSegments(EMOJI.repeat(35))).toEqual({encoding: 'UCS-2', segments: 1, characters: 70, perSegment: 70})
    expect(countSmsSegments('a'.repeat(69) + EMOJI)).toEqual({encoding: 'UCS-2', segments: 2, characters: 71, perSegment: 67})
  })

  it('does not split a surrogate pair across a segment boundary', () => {
    // 66 + 2 = 68 units: the emoji would start at unit 67 of part one, so it moves.
    const straddling = 'Ж'.repeat(66) + EMOJI + 'Ж'.repeat(66)
    expect(countSmsSegments(straddling)).toEqual({encoding: 'UCS-2', segments: 3, characters: 134, perSegment: 67})
    const aligned = 'Ж'.repeat(65) + EMOJI + 'Ж'.repeat(67)
    expect(countSmsSegments(aligned)).toEqual({encoding: 'UCS-2', segments: 2, characters: 134, perSegment: 67})
  })

  it('counts GSM extension characters as one unit once the body is UCS-2', () => {
    expect(countSmsSegments('€'.repeat(69) + 'ç')).toEqual({encoding: 'UCS-2', segments: 1, characters: 70, perSegment: 70})
  })
})

describe('assertSmsBodyFits', () => {
  it('returns the count for a body of exactly the maximum segments', () => {
    expect(MAX_SMS_SEGMENTS).toBe(10)
    expect(assertSmsBodyFits('a'.repeat(153 * 10)).segments).toBe(10)
  })

  it('refuses one septet more with a UsageError naming segments, encoding and limit', () => {
    let caught: unknown
    try {
      assertSmsBodyFits('a'.repeat(153 * 10 + 1))
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(UsageError)
    const error = caught as UsageError
    expect(error.code).toBe('SMS_BODY_TOO_LONG')
    expect(error.exitCode).toBe(2)
    expect(error.message).toBe('The SMS body needs 11 segments (GSM-7, 1531 septets); the limit is 10.')
    expect(error.details).toMatchObject({segments: 11, encoding: 'GSM-7', limit: 10})
  })

  it('refuses a UCS-2 body over the limit and explains why it is UCS-2', () => {
    const body = 'Ж'.repeat(67 * 10) + EMOJI
    expect(() => assertSmsBodyFits(body)).toThrowError(/needs 11 segments \(UCS-2, 672 UTF-16 code units\); the limit is 10/)
    try {
      assertSmsBodyFits(body)
    } catch (error) {
      expect((error as UsageError).suggestions.join(' ')).toMatch(/outside the GSM-7 alphabet/)
    }
  })

  it('never echoes the body in the message', () => {
    const body = 'SECRET-OFFER-CODE '.repeat(100)
    expect(() => assertSmsBodyFits(body)).toThrowError(UsageError)
    try {
      assertSmsBodyFits(body)
    } catch (error) {
      expect(JSON.stringify((error as UsageError).toJSON())).not.toContain('SECRET-OFFER-CODE')
    }
  })

  it('refuses an empty body', () => {
    expect(() => assertSmsBodyFits('')).toThrowError(expect.objectContaining({code: 'SMS_BODY_EMPTY'}))
  })

  it('honours a lower limit', () => {
    expect(() => assertSmsBodyFits('a'.repeat(161), 1)).toThrowError(/the limit is 1\./)
  })
})
