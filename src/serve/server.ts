import {createServer, type IncomingMessage, type ServerResponse} from 'node:http'
import {WebhookVerifier} from '../webhooks/standard-webhooks.js'
import {sendError, sendJson} from './http-io.js'
import {DEFAULT_SSE_OPTIONS, handleEvents, type SseOptions} from './routes/events.js'
import {handleMessageStatus} from './routes/message-status.js'
import {handleTwilioWebhook, type TwilioWebhookHandler} from './routes/twilio-webhook.js'
import {StatusEventHub} from './status-events.js'
import {listenOn} from '../net/listen.js'

export const ROUTES = {
  twilioWebhook: '/webhooks/twilio',
  messageStatus: '/internal/message-status',
  events: '/events',
  health: '/healthz',
} as const

export interface ServeServerOptions {
  /** 0 (the default) picks a free port. */
  port?: number
  /** Loopback by default. */
  host?: string
  /** BACKEND_STATUS_WEBHOOK_SECRET(s), current first; without one, /internal/message-status answers 503. */
  statusWebhookSecrets?: string[]
  twilioWebhook?: TwilioWebhookHandler
  /** Called after the Twilio webhook answered 2xx. */
  onTwilioWebhookAccepted?: () => void
  hub?: StatusEventHub
  sse?: Partial<SseOptions>
  /** Extra fields for /healthz (e.g. the forwarder's counters). */
  health?: () => Record<string, unknown>
  /** Time source of the signature check, epoch ms; tests pin it. */
  now?: () => number
}

export interface ServeServer {
  readonly url: string
  readonly port: number
  readonly host: string
  readonly hub: StatusEventHub
  /** Ends SSE streams, stops accepting connections, and resolves once the server is closed. */
  stop(): Promise<void>
}

/**
 * The HTTP server of `engage serve` (node:http, no framework): routes the
 * four endpoints, answers JSON errors with a stable code, and keeps serving
 * whatever one request sends (a handler that throws gets a 500, and only that
 * request is affected).
 */
export async function startServeServer(options: ServeServerOptions = {}): Promise<ServeServer> {
  const hub = options.hub ?? new StatusEventHub()
  const sse: SseOptions = {...DEFAULT_SSE_OPTIONS, ...options.sse}
  const secrets = options.statusWebhookSecrets?.filter((secret) => secret !== '') ?? []
  const verifier = secrets.length > 0 ? new WebhookVerifier({secrets, now: options.now}) : undefined
  const streams = new Set<ServerResponse>()
  const startedAt = Date.now()

  const route = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://serve.invalid')
    const method = request.method ?? 'GET'
    const allow = (methods: string): boolean => {
      if (methods.split(', ').includes(method)) return true
      request.resume()
      sendError(response, 405, 'METHOD_NOT_ALLOWED', `${url.pathname} takes ${methods}.`, {allow: methods})
      return false
    }
    switch (url.pathname) {
      case ROUTES.twilioWebhook:
        if (allow('POST')) await handleTwilioWebhook(request, response, {handler: options.twilioWebhook, url, onAccepted: options.onTwilioWebhookAccepted})
        return
      case ROUTES.messageStatus:
        if (allow('POST')) await handleMessageStatus(request, response, {verifier, hub})
        return
      case ROUTES.events:
        if (allow('GET')) {
          request.resume()
          handleEvents(request, response, {hub, url, options: sse, track: (stream) => trackStream(streams, stream)})
        }
        return
      case ROUTES.health:
        if (allow('GET')) {
          request.resume()
          sendJson(response, 200, {ok: true, uptimeSeconds: Math.round((Date.now() - startedAt) / 1000), events: hub.metrics(), ...options.health?.()})
        }
        return
      default:
        request.resume()
        sendError(response, 404, 'NOT_FOUND', `No route ${url.pathname}; try ${Object.values(ROUTES).join(', ')}.`)
    }
  }

  const server = createServer((request, response) => {
    route(request, response).catch(() => {
      // The cause stays out of the answer: it may quote a body or a credential.
      if (!response.headersSent) sendError(response, 500, 'INTERNAL', 'The request could not be processed.', {connection: 'close'})
      else response.destroy()
    })
  })
  server.on('clientError', (_error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n')
    else socket.destroy()
  })
  server.keepAliveTimeout = 5_000
  const host = options.host ?? '127.0.0.1'
  const port = await listenOn(server, options.port ?? 0, host)
  const urlHost = host.includes(':') ? `[${host}]` : host
  let stopping: Promise<void> | undefined
  return {
    url: `http://${urlHost}:${port}`,
    port,
    host,
    hub,
    stop() {
      stopping ??= (async () => {
        for (const stream of streams) stream.end()
        const closed = new Promise<void>((resolve) => server.close(() => resolve()))
        server.closeIdleConnections()
        setTimeout(() => server.closeAllConnections(), 2_000).unref()
        await closed
      })()
      return stopping
    },
  }
}

function trackStream(streams: Set<ServerResponse>, stream: ServerResponse): void {
  streams.add(stream)
  stream.once('close', () => streams.delete(stream))
}
