import type {IncomingMessage, ServerResponse} from 'node:http'
import {readBody, sendError, sendTooLarge} from '../http-io.js'

/** What the webhook handler answers, in API Gateway HTTP API v2 result shape. */
export interface WebhookHttpResult {
  statusCode: number
  headers?: Record<string, string>
  body?: string
  isBase64Encoded?: boolean
}

/**
 * The Twilio status-callback handler as serve mounts it: given the request
 * (method, headers), its raw body and the URL the router parsed, it answers. In production the same
 * processor runs behind API Gateway; here an adapter turns the Node request
 * into that event.
 */
export type TwilioWebhookHandler = (request: IncomingMessage, body: Buffer, url: URL) => Promise<WebhookHttpResult>

/**
 * POST /webhooks/twilio. Without a handler it answers 503 naming what is
 * missing. After a 2xx, `onAccepted` runs (serve kicks the status forwarder
 * so the new status reaches the backend at once).
 */
export async function handleTwilioWebhook(
  request: IncomingMessage,
  response: ServerResponse,
  context: {handler: TwilioWebhookHandler | undefined; url: URL; onAccepted?: () => void},
): Promise<void> {
  const read = await readBody(request)
  if (!read.ok) return sendTooLarge(response)
  if (!context.handler) return sendError(response, 503, 'TWILIO_WEBHOOK_UNAVAILABLE', 'The Twilio webhook handler is not mounted on this server.')
  const result = await context.handler(request, read.body, context.url)
  const body = result.body === undefined ? Buffer.alloc(0) : Buffer.from(result.body, result.isBase64Encoded ? 'base64' : 'utf8')
  response.writeHead(result.statusCode, {...result.headers, 'content-length': String(body.length)})
  response.end(body)
  if (result.statusCode >= 200 && result.statusCode < 300) context.onAccepted?.()
}
