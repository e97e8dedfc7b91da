/**
 * How long to wait before the next delivery attempt of one event: exponential
 * from `baseMs`, capped at `maxMs`, with "equal jitter" (half fixed, half
 * random) so events that failed together do not all retry in the same instant
 * yet never retry sooner than half the nominal delay.
 */
export interface BackoffPolicy {
  /** Delay after the first failure (default 1 s). */
  baseMs: number
  /** Upper bound of any delay (default 5 min). */
  maxMs: number
}

export const DEFAULT_BACKOFF: BackoffPolicy = {baseMs: 1_000, maxMs: 5 * 60_000}

/** `attempts` is the number of failed attempts so far, including the one just made (1 or more). */
export function retryDelayMs(attempts: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const exponent = Math.max(0, Math.min(attempts - 1, 30))
  const nominal = Math.min(policy.maxMs, policy.baseMs * 2 ** exponent)
  return Math.round(nominal / 2 + (nominal / 2) * random())
}
