import {createHmac, randomBytes, timingSafeEqual} from 'node:crypto'
import {UsageError} from '../errors/engage-error.js'

/**
 * Standard Webhooks (https://www.standardwebhooks.com, spec 1.0.0), symmetric
 * scheme: the sender puts `webhook-id`, `webhook-timestamp` (integer Unix
 * seconds) and `webhook-signature` on the request; the signature header is a
 * space-separated list of `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`
 * (several during a secret rotation); the key is the base64 after `whsec_`.
 * Receivers compare in constant time, refuse timestamps more than five minutes
 * from their clock in either direction, and drop a repeated id.
 *
 * Verification never throws: it returns a typed result the HTTP layer maps to
 * a status with {@link webhookFailureStatus}. Only configuration mistakes (a
 * malformed secret) throw, as a UsageError that never contains the secret.
 */
export const WEBHOOK_ID_HEADER = 'webhook-id'
export const WEBHOOK_TIMESTAMP_HEADER = 'webhook-timestamp'
export const WEBHOOK_SIGNATURE_HEADER = 'webhook-signature'

/** The spec's recommended tolerance, applied to past and future timestamps alike. */
export const WEBHOOK_TOLERANCE_SECONDS = 5 * 60

const SECRET_PREFIX = 'whsec_'
const MIN_SECRET_BYTES = 24 // the spec: at least 24 bytes, at most 64
const MAX_SECRET_BYTES = 64
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/**
 * Decode a `whsec_<base64>` secret (the bare base64 is accepted too, as the
 * reference libraries do) into HMAC key bytes. Throws a UsageError with code
 * WEBHOOK_SECRET_INVALID, naming the rule but never the value.
 */
export function parseWebhookSecret(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret
  const fail = (why: string): never => {
    throw new UsageError(`The webhook secret is invalid: ${why}.`, {
      code: 'WEBHOOK_SECRET_INVALID',
      suggestions: ['Use a secret of the form whsec_<base64 of 24 to 64 random bytes>, e.g. generate one with generateWebhookSecret().'],
    })
  }
  if (encoded.length === 0) return fail('it is empty')
  if (!BASE64.test(encoded)) return fail('the part after whsec_ is not base64')
  const key = Buffer.from(encoded, 'base64')
  if (key.length < MIN_SECRET_BYTES || key.length > MAX_SECRET_BYTES) {
    return fail(`it decodes to ${key.length} bytes, expected ${MIN_SECRET_BYTES} to ${MAX_SECRET_BYTES}`)
  }
  return key
}

/** A new random `whsec_` secret of 32 bytes. */
export function generateWebhookSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64')
}

function toKey(secret: string | Buffer): Buffer {
  return typeof secret === 'string' ? parseWebhookSecret(secret) : secret
}

function toUnixSeconds(timestamp: number | Date): number {
  return timestamp instanceof Date ? Math.floor(timestamp.getTime() / 1000) : timestamp
}

/**
 * The `v1,<base64>` signature of one message under one secret. `body` must be
 * the exact bytes sent: re-serialised JSON does not verify.
 */
export function computeWebhookSignature(secret: string | Buffer, id: string, timestamp: number | Date, body: string | Uint8Array): string {
  const hmac = createHmac('sha256', toKey(secret))
  hmac.update(`${id}.${toUnixSeconds(timestamp)}.`, 'utf8')
  hmac.update(typeof body === 'string' ? Buffer.from(body, 'utf8') : body)
  return `v1,${hmac.digest('base64')}`
}

// A type alias, not an interface, so it is assignable to HeaderSource's index signature.
export type StandardWebhookHeaders = {
  'webhook-id': string
  'webhook-timestamp': string
  'webhook-signature': string
}

/**
 * Headers for one delivery attempt. `secrets` may hold several (current first)
 * so receivers on either side of a rotation accept it. The id stays the same
 * across retries of one event; the timestamp is the attempt's, so a retry
 * re-signs. Ids and timestamps may not contain `.`, as the spec requires,
 * since the signed content is dot-delimited.
 */
export function signWebhook(
  message: {id: string; timestamp?: number | Date; body: string | Uint8Array},
  secrets: string | Buffer | ReadonlyArray<string | Buffer>,
): StandardWebhookHeaders {
  const timestamp = toUnixSeconds(message.timestamp ?? new Date())
  if (message.id.length === 0 || message.id.includes('.') || /\s/.test(message.id)) {
    throw new UsageError('A webhook id must be non-empty and contain no dot or whitespace.', {code: 'WEBHOOK_ID_INVALID'})
  }
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new UsageError('A webhook timestamp must be a non-negative integer of Unix seconds.', {code: 'WEBHOOK_TIMESTAMP_INVALID'})
  }
  const list = Array.isArray(secrets) ? secrets : [secrets as string | Buffer]
  if (list.length === 0) throw new UsageError('No webhook secret to sign with.', {code: 'WEBHOOK_SECRET_INVALID'})
  return {
    'webhook-id': message.id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': list.map((secret) => computeWebhookSignature(secret, message.id, timestamp, message.body)).join(' '),
  }
}

export type WebhookFailureReason =
  | 'missing_header'
  | 'invalid_header'
  | 'timestamp_too_old'
  | 'timestamp_too_new'
  | 'no_matching_signature'
  | 'duplicate_id'

export type WebhookVerification =
  | {ok: true; id: string; timestamp: number}
  | {ok: false; reason: WebhookFailureReason; message: string; header?: string; id?: string}

/**
 * The HTTP status a receiver should answer for a failed verification: 400 for
 * malformed headers, 401 for anything that fails authentication, and 200 for a
 * duplicate id, because the sender must stop retrying what was already applied.
 */
export function webhookFailureStatus(reason: WebhookFailureReason): 200 | 400 | 401 {
  switch (reason) {
    case 'duplicate_id':
      return 200
    case 'missing_header':
    case 'invalid_header':
      return 400
    default:
      return 401
  }
}

/** Anything that yields header values by lower-case name: a Fetch `Headers`, Node's `IncomingHttpHeaders`, a plain object. */
export type HeaderSource = {get(name: string): string | null} | Record<string, string | string[] | undefined>

function readHeader(headers: HeaderSource, name: string): string | undefined {
  if (typeof (headers as {get?: unknown}).get === 'function') {
    return (headers as {get(name: string): string | null}).get(name) ?? undefined
  }
  const record = headers as Record<string, string | string[] | undefined>
  const key = Object.keys(record).find((k) => k.toLowerCase() === name)
  const value = key === undefined ? undefined : record[key]
  return Array.isArray(value) ? value.join(' ') : value
}

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8')
  const right = Buffer.from(b, 'utf8')
  // The expected length is fixed by SHA-256, so failing early on length leaks nothing secret.
  return left.length === right.length && timingSafeEqual(left, right)
}

export interface VerifyWebhookOptions {
  /** Current time in milliseconds; tests pin it. */
  now?: () => number
  toleranceSeconds?: number
}

/**
 * Verify one delivery against one or more secrets (a rotation keeps the old
 * one for a while). Checks, in order: the three headers are present and well
 * formed, the timestamp is within tolerance in both directions, and at least
 * one `v1` entry matches in constant time. Entries of other versions (`v1a`,
 * future ones) are ignored, as the spec asks. Does not look at replays; use a
 * {@link WebhookVerifier} for that.
 */
export function verifyWebhook(
  headers: HeaderSource,
  body: string | Uint8Array,
  secrets: string | Buffer | ReadonlyArray<string | Buffer>,
  options: VerifyWebhookOptions = {},
): WebhookVerification {
  const keys = (Array.isArray(secrets) ? secrets : [secrets as string | Buffer]).map(toKey)
  const tolerance = options.toleranceSeconds ?? WEBHOOK_TOLERANCE_SECONDS
  const nowSeconds = Math.floor((options.now ?? Date.now)() / 1000)

  const id = readHeader(headers, WEBHOOK_ID_HEADER)
  const rawTimestamp = readHeader(headers, WEBHOOK_TIMESTAMP_HEADER)
  const signatureHeader = readHeader(headers, WEBHOOK_SIGNATURE_HEADER)
  for (const [name, value] of [
    [WEBHOOK_ID_HEADER, id],
    [WEBHOOK_TIMESTAMP_HEADER, rawTimestamp],
    [WEBHOOK_SIGNATURE_HEADER, signatureHeader],
  ] as const) {
    if (value === undefined || value.trim() === '') {
      return {ok: false, reason: 'missing_header', header: name, message: `The ${name} header is missing.`}
    }
  }
  if (id!.includes('.')) {
    return {ok: false, reason: 'invalid_header', header: WEBHOOK_ID_HEADER, message: 'The webhook-id header contains a dot.'}
  }
  if (!/^\d{1,15}$/.test(rawTimestamp!.trim())) {
    return {ok: false, reason: 'invalid_header', header: WEBHOOK_TIMESTAMP_HEADER, message: 'The webhook-timestamp header is not integer Unix seconds.'}
  }
  const timestamp = Number(rawTimestamp!.trim())
  if (timestamp < nowSeconds - tolerance) {
    return {ok: false, reason: 'timestamp_too_old', id, message: `The webhook timestamp is more than ${tolerance} seconds in the past.`}
  }
  if (timestamp > nowSeconds + tolerance) {
    return {ok: false, reason: 'timestamp_too_new', id, message: `The webhook timestamp is more than ${tolerance} seconds in the future.`}
  }

  const candidates = signatureHeader!
    .split(' ')
    .filter((entry) => entry.startsWith('v1,'))
    .map((entry) => entry.slice(3))
  for (const key of keys) {
    const expected = computeWebhookSignature(key, id!, timestamp, body).slice(3)
    // Every candidate is compared so the time taken does not say which one matched.
    let matched = false
    for (const candidate of candidates) matched = safeEqual(candidate, expected) || matched
    if (matched) return {ok: true, id: id!, timestamp}
  }
  return {ok: false, reason: 'no_matching_signature', id, message: 'No webhook signature matches the body and secret.'}
}

/**
 * Remembers verified webhook ids so a repeated id is dropped. Memory is
 * bounded twice: an entry expires after `ttlSeconds`, but never before its
 * signed timestamp leaves the tolerance window (until then a captured request
 * would still pass the timestamp check); and at most `maxEntries` are kept,
 * oldest evicted first. Eviction under pressure can let a replay through, so
 * size it above the ids expected within one tolerance window. In-process only:
 * several receiver processes need a shared store (the database) instead.
 */
export class WebhookReplayCache {
  private readonly expiries = new Map<string, number>()
  readonly ttlSeconds: number
  readonly maxEntries: number

  constructor(options: {ttlSeconds?: number; maxEntries?: number} = {}) {
    this.ttlSeconds = options.ttlSeconds ?? 2 * WEBHOOK_TOLERANCE_SECONDS
    this.maxEntries = options.maxEntries ?? 10_000
    if (this.maxEntries < 1) throw new UsageError('maxEntries must be at least 1.', {code: 'REPLAY_CACHE_INVALID'})
  }

  get size(): number {
    return this.expiries.size
  }

  /** True (and remembered) when `id` was not seen before; false for a repeat that has not expired. */
  remember(id: string, nowSeconds: number, signedTimestamp: number = nowSeconds, toleranceSeconds = WEBHOOK_TOLERANCE_SECONDS): boolean {
    this.sweep(nowSeconds)
    const expiry = this.expiries.get(id)
    if (expiry !== undefined && expiry > nowSeconds) return false
    this.expiries.delete(id)
    this.expiries.set(id, Math.max(nowSeconds + this.ttlSeconds, signedTimestamp + toleranceSeconds))
    while (this.expiries.size > this.maxEntries) {
      const oldest = this.expiries.keys().next().value as string
      this.expiries.delete(oldest)
    }
    return true
  }

  /** Forget an id, e.g. when processing a verified delivery failed and the sender's retry must get through. */
  forget(id: string): void {
    this.expiries.delete(id)
  }

  private sweep(nowSeconds: number): void {
    // Map keeps insertion order, and expiries are mostly monotonic, so stop at the first live one.
    for (const [id, expiry] of this.expiries) {
      if (expiry > nowSeconds) break
      this.expiries.delete(id)
    }
  }
}

/**
 * A receiver-side verifier: {@link verifyWebhook} plus a replay cache. An id
 * is remembered only after its signature verified, so forged requests cannot
 * fill the cache or block a real delivery.
 */
export class WebhookVerifier {
  private readonly keys: Buffer[]
  private readonly now: () => number
  private readonly toleranceSeconds: number
  readonly replayCache: WebhookReplayCache

  constructor(options: {secrets: string | ReadonlyArray<string>; replayCache?: WebhookReplayCache} & VerifyWebhookOptions) {
    this.keys = (typeof options.secrets === 'string' ? [options.secrets] : [...options.secrets]).map(parseWebhookSecret)
    if (this.keys.length === 0) throw new UsageError('No webhook secret to verify with.', {code: 'WEBHOOK_SECRET_INVALID'})
    this.now = options.now ?? Date.now
    this.toleranceSeconds = options.toleranceSeconds ?? WEBHOOK_TOLERANCE_SECONDS
    this.replayCache = options.replayCache ?? new WebhookReplayCache()
  }

  verify(headers: HeaderSource, body: string | Uint8Array): WebhookVerification {
    const result = verifyWebhook(headers, body, this.keys, {now: this.now, toleranceSeconds: this.toleranceSeconds})
    if (!result.ok) return result
    const nowSeconds = Math.floor(this.now() / 1000)
    if (!this.replayCache.remember(result.id, nowSeconds, result.timestamp, this.toleranceSeconds)) {
      return {ok: false, reason: 'duplicate_id', id: result.id, message: 'This webhook id was already received.'}
    }
    return result
  }

  /** See {@link WebhookReplayCache.forget}. */
  forget(id: string): void {
    this.replayCache.forget(id)
  }
}
