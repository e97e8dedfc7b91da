import type {Database} from '../db/database.js'
import {parseWebhookSecret, signWebhook} from '../webhooks/standard-webhooks.js'
import {onStatusApplied} from './status-applied.js'
import {DEFAULT_BACKOFF, retryDelayMs, type BackoffPolicy} from './backoff.js'
import {claimDueEvents, countUndelivered, markDelivered, markFailed, type ClaimedEvent} from './status-outbox.js'
import {MESSAGE_STATUS_EVENT_TYPE, webhookIdForEvent, type MessageStatusPayload} from './status-payload.js'

export interface ForwarderDeps {
  database: Database
  /** BACKEND_STATUS_WEBHOOK_URL: where each applied status is POSTed. */
  url: string
  /** BACKEND_STATUS_WEBHOOK_SECRET, `whsec_…` (Standard Webhooks). */
  secret: string
  now?: () => Date
  /** Events claimed per round (default 50). */
  batchSize?: number
  /** POSTs in flight at once within a round (default 8). */
  concurrency?: number
  fetch?: typeof fetch
  /** Per request (default 10 s). */
  timeoutMs?: number
  backoff?: Partial<BackoffPolicy>
  random?: () => number
  /** Epoch ms after which no new round starts (a Lambda must return before its timeout). */
  deadline?: number
}

export interface ForwardResult {
  delivered: number
  failed: number
  /** Applied events still undelivered after this run (waiting for a retry, or claimed by another forwarder). */
  pending: number
}

const DEFAULT_BATCH_SIZE = 50
const DEFAULT_CONCURRENCY = 8
const DEFAULT_TIMEOUT_MS = 10_000
/** Kept short in stored errors; a backend's error page is not worth a database row. */
const MAX_ERROR_CHARS = 300

/**
 * Delivers applied status events to the backend: claims the due ones oldest
 * first (at most one per message per round, so a message's statuses arrive in
 * order), POSTs each as `{type: 'message.status', data}` signed per Standard
 * Webhooks under the stable id `msgstatus_<eventId>` (a retry reuses it, so
 * the receiver drops repeats) and a fresh timestamp, marks it delivered on a
 * 2xx, and otherwise counts the attempt and schedules the next with
 * exponential backoff and jitter. Rounds repeat until nothing is due, or stop
 * early when a whole round failed (the backend is down: the next run tries
 * again). Safe to run in several processes at once: claims are leases in the
 * database. Nothing is lost while the backend is down; the events wait in the
 * database.
 */
export async function forwardStatusEvents(deps: ForwarderDeps): Promise<ForwardResult> {
  const key = parseWebhookSecret(deps.secret)
  const now = deps.now ?? (() => new Date())
  const batchSize = deps.batchSize ?? DEFAULT_BATCH_SIZE
  const concurrency = Math.max(1, deps.concurrency ?? DEFAULT_CONCURRENCY)
  const timeoutMs = deps.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const backoff: BackoffPolicy = {...DEFAULT_BACKOFF, ...deps.backoff}
  const post = deps.fetch ?? fetch
  // Long enough for every request of a round to time out, plus slack for the database.
  const leaseMs = timeoutMs * Math.ceil(batchSize / concurrency) + 30_000
  const totals = {delivered: 0, failed: 0}

  for (;;) {
    const start = now()
    if (deps.deadline !== undefined && start.getTime() >= deps.deadline) break
    const claimed = await claimDueEvents(deps.database, {
      now: start.toISOString(),
      leaseUntil: new Date(start.getTime() + leaseMs).toISOString(),
      limit: batchSize,
    })
    if (claimed.length === 0) break
    let roundFailures = 0
    const delivered: number[] = []
    await eachLimited(claimed, concurrency, async (event) => {
      const outcome = await deliver(event, {key, url: deps.url, post, timeoutMs, now})
      if (outcome.ok) {
        delivered.push(event.data.eventId)
        return
      }
      const attempts = event.attempts + 1
      const nextAttemptAt = new Date(now().getTime() + retryDelayMs(attempts, backoff, deps.random)).toISOString()
      await markFailed(deps.database, {eventId: event.data.eventId, leaseUntil: event.leaseUntil, error: outcome.error, nextAttemptAt})
      totals.failed++
      roundFailures++
    })
    // One write per round: a crash before it only means these are posted again under the same ids, which receivers drop.
    await markDelivered(deps.database, delivered, now().toISOString())
    totals.delivered += delivered.length
    if (roundFailures === claimed.length) break
  }
  return {...totals, pending: await countUndelivered(deps.database)}
}

async function deliver(
  event: ClaimedEvent,
  context: {key: Buffer; url: string; post: typeof fetch; timeoutMs: number; now: () => Date},
): Promise<{ok: true} | {ok: false; error: string}> {
  const payload: MessageStatusPayload = {type: MESSAGE_STATUS_EVENT_TYPE, data: event.data}
  const body = JSON.stringify(payload)
  const headers = signWebhook({id: webhookIdForEvent(event.data.eventId), timestamp: context.now(), body}, context.key)
  try {
    const response = await context.post(context.url, {
      method: 'POST',
      headers: {'content-type': 'application/json', ...headers},
      body,
      signal: AbortSignal.timeout(context.timeoutMs),
    })
    const text = await response.text().catch(() => '')
    if (response.status >= 200 && response.status < 300) return {ok: true}
    return {ok: false, error: truncate(`HTTP ${response.status}${text ? `: ${text}` : ''}`)}
  } catch (error) {
    return {ok: false, error: truncate(describeFetchError(error, context.timeoutMs))}
  }
}

/** What went wrong, without the URL (it may carry a token) and without a stack. */
function describeFetchError(error: unknown, timeoutMs: number): string {
  const failure = error as {name?: string; message?: string; cause?: {code?: string; message?: string}}
  if (failure?.name === 'TimeoutError' || failure?.name === 'AbortError') return `no response within ${timeoutMs} ms`
  const cause = failure?.cause
  if (cause?.code) return `${cause.code}${cause.message ? `: ${cause.message}` : ''}`
  return failure?.message ?? String(error)
}

function truncate(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim()
  return oneLine.length > MAX_ERROR_CHARS ? `${oneLine.slice(0, MAX_ERROR_CHARS - 1)}…` : oneLine
}

async function eachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const lanes = Array.from({length: Math.min(limit, items.length)}, async () => {
    while (next < items.length) await work(items[next++]!)
  })
  await Promise.all(lanes)
}

export interface StatusForwarderLoop {
  /** Run a round soon (after a status was applied) instead of waiting for the interval. */
  kick(): void
  /** Stops the loop and waits for a round in progress to finish. */
  stop(): Promise<void>
  /** Totals since start, and the last run's error if it threw (e.g. the database was unreachable). */
  stats(): {runs: number; delivered: number; failed: number; pending: number; lastError?: string}
}

/**
 * Runs {@link forwardStatusEvents} every `intervalMs` in a long-running
 * process (worker, serve), and at once when `kick()` is called or anything in
 * the process calls `notifyStatusApplied()` (src/backend-status/status-applied.ts). Runs never
 * overlap; a kick during a run schedules one more run right after it. A run
 * that throws is logged through `onError` and retried at the next tick.
 */
export function startStatusForwarder(deps: ForwarderDeps & {intervalMs: number; onError?: (error: unknown) => void}): StatusForwarderLoop {
  const stats = {runs: 0, delivered: 0, failed: 0, pending: 0, lastError: undefined as string | undefined}
  let stopped = false
  let running: Promise<void> | undefined
  let again = false
  let timer: NodeJS.Timeout | undefined

  const schedule = (delayMs: number) => {
    if (stopped) return
    clearTimeout(timer)
    timer = setTimeout(run, delayMs)
    timer.unref?.()
  }
  const run = () => {
    if (stopped) return
    if (running) {
      again = true
      return
    }
    clearTimeout(timer)
    running = (async () => {
      try {
        const result = await forwardStatusEvents(deps)
        stats.runs++
        stats.delivered += result.delivered
        stats.failed += result.failed
        stats.pending = result.pending
        stats.lastError = undefined
      } catch (error) {
        stats.lastError = (error as Error)?.message ?? String(error)
        deps.onError?.(error)
      }
    })().finally(() => {
      running = undefined
      if (again) {
        again = false
        schedule(0)
      } else schedule(deps.intervalMs)
    })
  }
  schedule(0)
  const stopListening = onStatusApplied(run)
  return {
    kick: () => run(),
    async stop() {
      stopped = true
      stopListening()
      clearTimeout(timer)
      await running
    },
    stats: () => ({...stats}),
  }
}
