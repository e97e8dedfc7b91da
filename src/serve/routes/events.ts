import type {IncomingMessage, ServerResponse} from 'node:http'
import {MESSAGE_STATUS_EVENT_TYPE} from '../../backend-status/status-payload.js'
import {sendError} from '../http-io.js'
import type {StatusEvent, StatusEventFilter, StatusEventHub} from '../status-events.js'

export interface SseOptions {
  /** A comment line this often keeps proxies from closing an idle stream (default 15 s). */
  heartbeatMs: number
  /**
   * Bytes a client may have waiting in its socket buffer. A client that falls
   * this far behind is disconnected rather than slowing the others or growing
   * memory; it reconnects with Last-Event-ID and resumes from the ring buffer.
   */
  maxBufferedBytes: number
}

export const DEFAULT_SSE_OPTIONS: SseOptions = {heartbeatMs: 15_000, maxBufferedBytes: 256 * 1024}

/** One SSE frame: `id:`, `event: message.status`, `data:` (one line of JSON, since JSON.stringify escapes newlines). */
export function formatStatusFrame(event: StatusEvent): string {
  return `id: ${event.id}\nevent: ${MESSAGE_STATUS_EVENT_TYPE}\ndata: ${JSON.stringify(event.payload.data)}\n\n`
}

/**
 * GET /events: Server-Sent Events of message statuses. Query `tenant` and
 * `campaign` filter; `Last-Event-ID` (header) or `lastEventId` (query)
 * replays the buffered events after that id first. When the buffer no longer
 * holds all missed events, an `event: gap` frame says so before the replay.
 */
export function handleEvents(
  request: IncomingMessage,
  response: ServerResponse,
  context: {hub: StatusEventHub; url: URL; options: SseOptions; track: (response: ServerResponse) => void},
): void {
  const {hub, url, options} = context
  const filter: StatusEventFilter = {}
  for (const [name, key] of [['tenant', 'tenant'], ['campaign', 'campaign']] as const) {
    const values = url.searchParams.getAll(name)
    if (values.length > 1) return sendError(response, 400, 'QUERY_INVALID', `Give "${name}" at most once.`)
    if (values.length === 1) {
      if (values[0] === '') return sendError(response, 400, 'QUERY_INVALID', `"${name}" is empty; leave it out to receive every ${name}.`)
      filter[key] = values[0]
    }
  }
  const rawLastId = headerValue(request.headers['last-event-id']) ?? url.searchParams.get('lastEventId') ?? undefined
  let lastEventId: number | undefined
  if (rawLastId !== undefined && rawLastId.trim() !== '') {
    if (!/^\d{1,15}$/.test(rawLastId.trim())) {
      return sendError(response, 400, 'LAST_EVENT_ID_INVALID', 'Last-Event-ID must be the non-negative integer id of an event this server sent.')
    }
    lastEventId = Number(rawLastId.trim())
  }

  response.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  })
  response.socket?.setNoDelay(true)
  context.track(response)
  let closed = false
  const sink = (event: StatusEvent): boolean => {
    if (closed) return false
    if (response.writableLength > options.maxBufferedBytes) {
      disconnect()
      return false
    }
    response.write(formatStatusFrame(event))
    return true
  }
  const subscription = hub.subscribe(filter, sink, {lastEventId})
  const heartbeat = setInterval(() => {
    if (response.writableLength > options.maxBufferedBytes) disconnect()
    else response.write(': heartbeat\n\n')
  }, options.heartbeatMs)
  heartbeat.unref()
  function disconnect(): void {
    if (closed) return
    closed = true
    clearInterval(heartbeat)
    subscription.unsubscribe()
    response.destroy()
  }
  response.once('close', disconnect)

  response.write(`retry: 2000\n: connected\n\n`)
  if (subscription.gap) response.write(`event: gap\ndata: ${JSON.stringify({lastEventId, oldestBufferedId: subscription.replay[0]?.id ?? null})}\n\n`)
  for (const event of subscription.replay) response.write(formatStatusFrame(event))
  hub.recordEmitted(subscription.replay.length)
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}
