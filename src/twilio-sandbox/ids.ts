import {randomBytes} from 'node:crypto'

/**
 * Twilio resource identifiers: a two-letter type prefix and 32 lowercase hex
 * digits (`AC…` account, `MG…` messaging service, `SM…` message, `PN…` phone
 * number, `XE…` channel sender).
 */
export type SidPrefix = 'AC' | 'MG' | 'SM' | 'MM' | 'PN' | 'XE'

export function newSid(prefix: SidPrefix): string {
  return prefix + randomBytes(16).toString('hex')
}

/** True when `value` is `prefix` followed by exactly 32 hex digits. */
export function isSid(value: unknown, prefix: SidPrefix): value is string {
  return typeof value === 'string' && new RegExp(`^${prefix}[0-9a-fA-F]{32}$`).test(value)
}

/** A fresh auth token in Twilio's format (32 hex digits). */
export function newAuthToken(): string {
  return randomBytes(16).toString('hex')
}

/**
 * A secret shown the way engage shows secrets: first four and last four
 * characters (`ab12…89ef`); short values are hidden entirely.
 */
export function redactSecret(secret: string): string {
  if (secret.length < 12) return '…'
  return `${secret.slice(0, 4)}…${secret.slice(-4)}`
}

/**
 * A small seeded PRNG (mulberry32) so fault injection is reproducible: the same
 * seed fails the same sends, run after run.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
