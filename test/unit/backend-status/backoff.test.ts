import {describe, expect, it} from 'vitest'
import {DEFAULT_BACKOFF, retryDelayMs} from '../../../src/backend-status/backoff.js'

describe('retryDelayMs', () => {
  it('doubles per failed attempt between half and all of the nominal delay', () => {
    expect(retryDelayMs(1, DEFAULT_BACKOFF, () => 0)).toBe(500)
    expect(retryDelayMs(1, DEFAULT_BACKOFF, () => 1)).toBe(1_000)
    expect(retryDelayMs(2, DEFAULT_BACKOFF, () => 1)).toBe(2_000)
    expect(retryDelayMs(4, DEFAULT_BACKOFF, () => 0)).toBe(4_000)
  })

  it('never exceeds the cap, however many attempts failed', () => {
    for (const attempts of [10, 11, 50, 10_000]) {
      expect(retryDelayMs(attempts, DEFAULT_BACKOFF, () => 1)).toBe(5 * 60_000)
      expect(retryDelayMs(attempts, DEFAULT_BACKOFF, () => 0)).toBe(150_000)
    }
  })

  it('spreads retries of events that failed together', () => {
    const delays = new Set(Array.from({length: 50}, () => retryDelayMs(3)))
    expect(delays.size).toBeGreaterThan(10)
    for (const delay of delays) expect(delay).toBeGreaterThanOrEqual(2_000)
  })
})
