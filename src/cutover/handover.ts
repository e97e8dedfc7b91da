import type {Logger} from '../cli/logger.js'
import {silentLogger} from '../cli/logger.js'
import type {Database} from '../db/database.js'
import type {QueueDepth, ReceiveOptions, ReceivedMessage} from '../queue/message-queue.js'
import type {ConsumedQueue} from '../worker/worker-loop.js'
import {allTenantsOnAws, readUseAwsQueueState} from './flags.js'

/** How often the local worker re-reads the flag between polls. */
export const DEFAULT_FLAG_REFRESH_MS = 3000
// Polls come back-to-back while the queue is busy; one flag read per this many ms is enough.
const MIN_POLL_REFRESH_MS = 250

export type HandoverPhase = 'local' | 'handing-over' | 'handed-over'

export interface HandoverReport {
  phase: HandoverPhase
  /** When the flag moved every tenant to AWS (ISO), if it did while this worker ran. */
  flippedAt?: string
  /** Messages this worker held (received, not yet deleted) at the flip. */
  inFlightAtFlip: number
  /** Messages waiting in the local queue at the flip (visible, delayed, or held by other workers). */
  queuedAtFlip: number
  /** Messages this worker finished (deleted) since the flip. */
  finishedSinceFlip: number
}

export interface HandoverWatcherOptions {
  database: Database
  /** The local queue the worker consumes. */
  queue: ConsumedQueue
  logger?: Logger
  refreshMs?: number
  now?: () => number
}

/**
 * Graceful hand-over of the local worker. The flag decides where NEW sends
 * go; it never strands old ones. So the worker keeps draining the local
 * queue whatever the flag says, for every tenant (with per-tenant flags
 * both paths are live at once), and this watcher only follows the flag:
 * it re-reads it every few seconds and at each poll, and when every tenant
 * has moved to AWS (global on, no tenant override off) it reports what the
 * worker still holds and what is left locally, then — once this worker has
 * finished those and the local queue is empty — that the hand-over is done.
 * After that the worker idles on an empty queue, still picking up anything
 * that lands there (a rollback's moved messages, a DLQ redrive), each once.
 *
 * {@link wrap} returns the queue the worker loop should consume: the same
 * queue, with receives and deletes counted so the report is exact.
 */
export class HandoverWatcher {
  private readonly database: Database
  private readonly queue: ConsumedQueue
  private readonly logger: Logger
  private readonly refreshMs: number
  private readonly now: () => number
  private readonly held = new Set<string>()
  private report: HandoverReport = {phase: 'local', inFlightAtFlip: 0, queuedAtFlip: 0, finishedSinceFlip: 0}
  private lastRefresh = Number.NEGATIVE_INFINITY
  private refreshing: Promise<void> | undefined
  private timer: NodeJS.Timeout | undefined

  constructor(options: HandoverWatcherOptions) {
    this.database = options.database
    this.queue = options.queue
    this.logger = options.logger ?? silentLogger
    this.refreshMs = options.refreshMs ?? DEFAULT_FLAG_REFRESH_MS
    this.now = options.now ?? Date.now
  }

  /** Reads the flag now and then every `refreshMs` until {@link stop}. */
  async start(): Promise<void> {
    await this.refresh()
    this.timer = setInterval(() => void this.refresh(), this.refreshMs)
    this.timer.unref()
  }

  stop(): HandoverReport {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    return this.summary()
  }

  summary(): HandoverReport {
    return {...this.report}
  }

  /** The worker's view of the queue: receives refresh the flag first, and held messages are tracked. */
  wrap(): ConsumedQueue {
    return {
      receive: async (options: ReceiveOptions): Promise<ReceivedMessage[]> => {
        if (this.now() - this.lastRefresh >= MIN_POLL_REFRESH_MS) await this.refresh()
        const messages = await this.queue.receive(options)
        for (const message of messages) this.held.add(message.receiptHandle)
        return messages
      },
      delete: async (handles) => {
        const result = await this.queue.delete(handles)
        for (const handle of handles) this.held.delete(handle)
        if (this.report.phase !== 'local') this.report.finishedSinceFlip += result.deleted.length
        return result
      },
      changeVisibility: async (handle, seconds) => {
        // A failed record goes back to the queue: this worker no longer holds it.
        this.held.delete(handle)
        await this.queue.changeVisibility(handle, seconds)
      },
      depth: (): Promise<QueueDepth> => this.queue.depth(),
    }
  }

  /** One flag read and phase step; concurrent callers share it. Failures are logged, never thrown: the worker keeps draining. */
  refresh(): Promise<void> {
    this.refreshing ??= this.step()
      .catch((error: Error) => this.logger.warn(`could not read the USE_AWS_QUEUE flag: ${error.message}; still draining the local queue.`))
      .finally(() => {
        this.lastRefresh = this.now()
        this.refreshing = undefined
      })
    return this.refreshing
  }

  private async step(): Promise<void> {
    const onAws = allTenantsOnAws(await readUseAwsQueueState(this.database))
    if (!onAws) {
      if (this.report.phase !== 'local') {
        this.logger.info('USE_AWS_QUEUE is off for some tenants again: their new sends come to the local queue, and this worker takes them.')
      }
      this.report = {phase: 'local', inFlightAtFlip: 0, queuedAtFlip: 0, finishedSinceFlip: 0}
      return
    }
    if (this.report.phase === 'local') {
      const depth = await this.queue.depth()
      const inFlight = this.held.size
      this.report = {
        phase: 'handing-over',
        flippedAt: new Date(this.now()).toISOString(),
        inFlightAtFlip: inFlight,
        queuedAtFlip: Math.max(0, depth.visible + depth.inFlight + (depth.delayed ?? 0) - inFlight),
        finishedSinceFlip: 0,
      }
      this.logger.info(
        `USE_AWS_QUEUE is on for every tenant: new sends go to SQS. Handing over: finishing ${inFlight} in flight here; ${this.report.queuedAtFlip} left in the local queue will be drained by this worker.`,
      )
    }
    if (this.report.phase === 'handing-over' && this.held.size === 0) {
      const depth = await this.queue.depth()
      if (depth.visible + depth.inFlight + (depth.delayed ?? 0) === 0) {
        this.report.phase = 'handed-over'
        this.logger.info(
          `handed over: ${this.report.inFlightAtFlip} in flight finished, ${this.report.queuedAtFlip} left in the local queue → drained by this worker (${this.report.finishedSinceFlip} finished since the flip); the local queue is empty, idling.`,
        )
      }
    }
  }
}
