import type {Logger} from '../cli/logger.js'
import {silentLogger} from '../cli/logger.js'
import {toSqsEventRecord, type MessageQueue, type QueueSource, type ReceivedMessage, type SqsEventRecord} from '../queue/message-queue.js'

/**
 * What the worker drives: an SQS-triggered Lambda handler's shape, an event
 * of records in and SQS's partial batch response out. The
 * SendCampaignMessage processor is one; tests pass their own.
 */
export type BatchHandler = (event: {Records: SqsEventRecord[]}) => Promise<{batchItemFailures: Array<{itemIdentifier: string}>}>

/** The part of a {@link MessageQueue} a consumer needs. */
export type ConsumedQueue = Pick<MessageQueue, 'receive' | 'delete' | 'changeVisibility' | 'depth'>

export interface WorkerOptions {
  queue: ConsumedQueue
  /** ARN and region the records carry, as an SQS event source mapping would set them. */
  source: QueueSource
  handler: BatchHandler
  /** Batches processed at once, each by its own receive loop (default 1). */
  concurrency?: number
  /** Messages per receive and per handler call, 1-10 (default 10). */
  batchSize?: number
  /** Hide received messages this long; undefined keeps the queue's own timeout. */
  visibilityTimeoutSeconds?: number
  /** Long poll per receive (default 1 s: short, so a stop request is noticed quickly). */
  waitSeconds?: number
  /** Stop once the queue is empty and nothing is in flight. */
  drain?: boolean
  /**
   * Seconds until a failed record is visible again, by its receive count;
   * undefined leaves it to the visibility timeout. Default {@link backoffSeconds}.
   */
  retryDelaySeconds?: (receiveCount: number) => number | undefined
  /** Aborting stops receiving; batches in flight are finished and deleted first. */
  signal?: AbortSignal
  logger?: Logger
  /** Pause after an empty receive while draining, or after a receive error (default 200 ms, doubling to 10 s on errors). */
  idleDelayMs?: number
}

export interface WorkerSummary {
  /** Why the loop ended. */
  stoppedBy: 'signal' | 'drain'
  batches: number
  received: number
  /** Records the handler reported done (and that were deleted or tried). */
  succeeded: number
  /** Records the handler reported failed or threw on; they come back after their delay. */
  failed: number
  deleted: number
  /** Deletes the queue refused (a visibility timeout ran out first: the message will be delivered again). */
  deleteFailed: number
  /** Messages received after a stop request, made visible again unprocessed. */
  released: number
  /** Handler calls that threw (every record of the batch counted failed). */
  handlerErrors: number
  receiveErrors: number
}

/**
 * Retry delay for a failed record: 1, 2, 4, 8 … seconds by receive count,
 * capped at `capSeconds`. Provider throttling (429) is the usual reason a
 * record fails, and an immediate retry would meet the same limit.
 */
export function backoffSeconds(receiveCount: number, capSeconds: number): number {
  const exponent = Math.max(0, Math.min(receiveCount - 1, 20))
  return Math.min(capSeconds, 2 ** exponent)
}

const DEFAULT_WAIT_SECONDS = 1
const DEFAULT_IDLE_DELAY_MS = 200
const MAX_ERROR_DELAY_MS = 10_000
const DEFAULT_BACKOFF_CAP_SECONDS = 30

/**
 * Polls a queue and drives a {@link BatchHandler} with SQS-shaped records,
 * as Lambda's SQS event source does: records the handler reports done are
 * deleted; failed ones (listed in batchItemFailures, or every record when the
 * handler throws or names an id that is not in the batch) stay in the queue
 * and are made visible again after `retryDelaySeconds`. At-least-once: a
 * worker that dies mid-batch deletes nothing, and its messages reappear
 * after the visibility timeout for the next worker.
 *
 * `concurrency` receive loops run side by side. Aborting `signal` stops
 * them from receiving; batches already in the handler are finished and
 * deleted before the returned promise resolves with the summary. With
 * `drain`, it resolves once nothing is in flight here and the queue reports
 * no visible, in-flight or delayed message.
 */
export async function runWorker(options: WorkerOptions): Promise<WorkerSummary> {
  const logger = options.logger ?? silentLogger
  const batchSize = options.batchSize ?? 10
  const concurrency = Math.max(1, options.concurrency ?? 1)
  const waitSeconds = options.waitSeconds ?? DEFAULT_WAIT_SECONDS
  const idleDelayMs = options.idleDelayMs ?? DEFAULT_IDLE_DELAY_MS
  const retryDelay = options.retryDelaySeconds ?? ((count: number) => backoffSeconds(count, options.visibilityTimeoutSeconds ?? DEFAULT_BACKOFF_CAP_SECONDS))
  const summary: WorkerSummary = {
    stoppedBy: 'signal',
    batches: 0,
    received: 0,
    succeeded: 0,
    failed: 0,
    deleted: 0,
    deleteFailed: 0,
    released: 0,
    handlerErrors: 0,
    receiveErrors: 0,
  }
  let inFlight = 0
  let drained = false
  const stopping = () => drained || options.signal?.aborted === true

  const processBatch = async (messages: ReceivedMessage[]) => {
    summary.batches++
    summary.received += messages.length
    const records = messages.map((message) => toSqsEventRecord(message, options.source))
    const failedIds = await failuresOf(options.handler, records, logger, () => summary.handlerErrors++)
    const done = messages.filter((message) => !failedIds.has(message.messageId))
    const failed = messages.filter((message) => failedIds.has(message.messageId))
    summary.succeeded += done.length
    summary.failed += failed.length
    if (done.length > 0) {
      try {
        const result = await options.queue.delete(done.map((message) => message.receiptHandle))
        summary.deleted += result.deleted.length
        summary.deleteFailed += result.failed.length
        for (const failure of result.failed) logger.warn(`delete refused (${failure.code}); the message will be delivered again and the handler will see it is done.`)
      } catch (error) {
        summary.deleteFailed += done.length
        logger.warn(`delete of ${done.length} message(s) failed: ${(error as Error).message}; they will be delivered again.`)
      }
    }
    for (const message of failed) {
      const seconds = retryDelay(message.receiveCount)
      if (seconds === undefined) continue
      // Best effort: if this fails the message still comes back after the visibility timeout.
      await options.queue.changeVisibility(message.receiptHandle, seconds).catch((error: Error) => logger.debug(`changeVisibility failed: ${error.message}`))
    }
    logger.debug(`batch of ${messages.length}: ${done.length} done, ${failed.length} to retry`)
  }

  const queueIsEmpty = async () => {
    const depth = await options.queue.depth()
    return depth.visible === 0 && depth.inFlight === 0 && (depth.delayed ?? 0) === 0
  }

  const lane = async () => {
    let errorDelay = idleDelayMs
    while (!stopping()) {
      let messages: ReceivedMessage[]
      try {
        messages = await options.queue.receive({
          max: batchSize,
          waitSeconds,
          ...(options.visibilityTimeoutSeconds === undefined ? {} : {visibilityTimeoutSeconds: options.visibilityTimeoutSeconds}),
        })
        errorDelay = idleDelayMs
      } catch (error) {
        summary.receiveErrors++
        logger.warn(`receive failed: ${(error as Error).message}; retrying in ${errorDelay} ms.`)
        await sleep(errorDelay, options.signal)
        errorDelay = Math.min(errorDelay * 2, MAX_ERROR_DELAY_MS)
        continue
      }
      if (messages.length > 0 && stopping()) {
        // Received while a stop was requested: hand them back now rather than after the visibility timeout.
        summary.released += messages.length
        await Promise.all(messages.map((message) => options.queue.changeVisibility(message.receiptHandle, 0).catch(() => {})))
        break
      }
      if (messages.length === 0) {
        if (options.drain && inFlight === 0) {
          const empty = await queueIsEmpty().catch(() => false)
          if (empty && inFlight === 0) {
            drained = true
            break
          }
          // Messages hidden by another (or a dead) worker come back after their visibility timeout: wait for them.
          await sleep(idleDelayMs, options.signal)
        } else if (waitSeconds === 0) {
          // A receive that does not long-poll can answer without ever leaving the microtask queue
          // (SQLite is synchronous): without a real pause, timers and signal handlers would starve.
          await sleep(idleDelayMs, options.signal)
        }
        continue
      }
      inFlight++
      try {
        await processBatch(messages)
      } finally {
        inFlight--
      }
    }
  }

  await Promise.all(Array.from({length: concurrency}, lane))
  summary.stoppedBy = drained && options.signal?.aborted !== true ? 'drain' : 'signal'
  return summary
}

/** The ids of the records to retry: the handler's batchItemFailures, or all of them when its answer cannot be trusted. */
async function failuresOf(handler: BatchHandler, records: SqsEventRecord[], logger: Logger, onThrow: () => void): Promise<Set<string>> {
  const all = new Set(records.map((record) => record.messageId))
  let response: Awaited<ReturnType<BatchHandler>>
  try {
    response = await handler({Records: records})
  } catch (error) {
    onThrow()
    logger.error(`the handler threw on a batch of ${records.length}: ${(error as Error).message}; every record will be retried.`)
    return all
  }
  const failures = response?.batchItemFailures
  if (!Array.isArray(failures)) {
    logger.error('the handler returned no batchItemFailures list; every record will be retried.')
    return all
  }
  const ids = new Set<string>()
  for (const failure of failures) {
    // Lambda treats an empty or unknown identifier as a failure of the whole batch; so does this loop.
    if (typeof failure?.itemIdentifier !== 'string' || !all.has(failure.itemIdentifier)) {
      logger.error('the handler named a record that is not in the batch; every record will be retried.')
      return all
    }
    ids.add(failure.itemIdentifier)
  }
  return ids
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, {once: true})
  })
}
