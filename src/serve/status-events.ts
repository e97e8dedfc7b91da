import {EventEmitter} from 'node:events'
import type {MessageStatusPayload} from '../backend-status/status-payload.js'

/** One status as `GET /events` streams it: `id` is this process's monotonic sequence number. */
export interface StatusEvent {
  id: number
  payload: MessageStatusPayload
}

export interface StatusEventFilter {
  tenant?: string
  campaign?: string
}

export interface StatusEventMetrics {
  /** Statuses published (accepted by POST /internal/message-status). */
  received: number
  /** Deliveries to subscribers, live and replayed. */
  emitted: number
  /** Deliveries refused because a subscriber's buffer was full (that subscriber is then disconnected). */
  dropped: number
  /** Subscribers connected now. */
  subscribers: number
  /** The newest sequence number, 0 before the first status. */
  lastEventId: number
  /** Events held for Last-Event-ID resume, and the most it holds. */
  buffered: number
  bufferSize: number
}

/** Delivers one event to a subscriber; returns false when the subscriber cannot take it (buffer full). */
export type StatusEventSink = (event: StatusEvent) => boolean

export interface Subscription {
  /** Buffered events after the resume point that match the filter, oldest first; already counted as emitted when delivered. */
  readonly replay: StatusEvent[]
  /**
   * True when events after the resume point were already evicted from the
   * buffer (or the id is from before a restart): the client missed some and
   * should reload its state.
   */
  readonly gap: boolean
  unsubscribe(): void
}

export const DEFAULT_STATUS_BUFFER_SIZE = 1_000

/**
 * The in-process hub between POST /internal/message-status and the SSE
 * subscribers of GET /events, with counters for /healthz. Keeps the last
 * `bufferSize` events (a ring) so a client that reconnects with
 * Last-Event-ID gets what it missed. Also an EventEmitter: `'status'` fires
 * for every published event, `'drop'` for every refused delivery, for
 * in-process listeners and tests.
 */
export class StatusEventHub extends EventEmitter {
  readonly bufferSize: number
  private readonly ring: Array<StatusEvent | undefined>
  private sequence = 0
  private readonly sinks = new Map<StatusEventSink, StatusEventFilter>()
  private readonly counters = {received: 0, emitted: 0, dropped: 0}

  constructor(options: {bufferSize?: number} = {}) {
    super()
    this.bufferSize = Math.max(1, options.bufferSize ?? DEFAULT_STATUS_BUFFER_SIZE)
    this.ring = new Array(this.bufferSize)
  }

  /** Numbers the status, keeps it for resume, and hands it to every matching subscriber. */
  publish(payload: MessageStatusPayload): StatusEvent {
    const event: StatusEvent = {id: ++this.sequence, payload}
    this.ring[event.id % this.bufferSize] = event
    this.counters.received++
    this.emit('status', event)
    for (const [sink, filter] of [...this.sinks]) {
      if (matches(filter, event)) this.deliver(sink, event)
    }
    return event
  }

  /**
   * Adds a subscriber. With `lastEventId`, the buffered events after it that match come back in
   * `replay` for the caller to send first; live events reach `sink` only after this returns, and
   * since publishing is synchronous nothing falls between the two.
   */
  subscribe(filter: StatusEventFilter, sink: StatusEventSink, options: {lastEventId?: number} = {}): Subscription {
    let replay: StatusEvent[] = []
    let gap = false
    if (options.lastEventId !== undefined) {
      const resumeAfter = options.lastEventId > this.sequence ? 0 : options.lastEventId
      // An id newer than anything here was issued by an earlier run of the server: replay all we have.
      gap = options.lastEventId > this.sequence || resumeAfter < this.oldestId() - 1
      replay = this.buffered().filter((event) => event.id > resumeAfter && matches(filter, event))
    }
    this.sinks.set(sink, filter)
    return {
      replay,
      gap,
      unsubscribe: () => {
        this.sinks.delete(sink)
      },
    }
  }

  /** Counts a delivery made outside publish (a replay). */
  recordEmitted(count = 1): void {
    this.counters.emitted += count
  }

  metrics(): StatusEventMetrics {
    return {
      ...this.counters,
      subscribers: this.sinks.size,
      lastEventId: this.sequence,
      buffered: Math.min(this.sequence, this.bufferSize),
      bufferSize: this.bufferSize,
    }
  }

  private deliver(sink: StatusEventSink, event: StatusEvent): void {
    let accepted = false
    try {
      accepted = sink(event)
    } catch {
      accepted = false
    }
    if (accepted) {
      this.counters.emitted++
      return
    }
    this.counters.dropped++
    this.emit('drop', event)
  }

  private oldestId(): number {
    return Math.max(1, this.sequence - this.bufferSize + 1)
  }

  private buffered(): StatusEvent[] {
    const events: StatusEvent[] = []
    for (let id = this.oldestId(); id <= this.sequence; id++) {
      const event = this.ring[id % this.bufferSize]
      if (event) events.push(event)
    }
    return events
  }
}

function matches(filter: StatusEventFilter, event: StatusEvent): boolean {
  if (filter.tenant !== undefined && event.payload.data.tenantId !== filter.tenant) return false
  if (filter.campaign !== undefined && event.payload.data.campaignId !== filter.campaign) return false
  return true
}
