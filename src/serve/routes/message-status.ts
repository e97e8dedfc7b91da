import type {IncomingMessage, ServerResponse} from 'node:http'
import {parseMessageStatusPayload} from '../../backend-status/status-payload.js'
import {webhookFailureStatus, type WebhookVerifier} from '../../webhooks/standard-webhooks.js'
import {readBody, sendError, sendJson, sendTooLarge} from '../http-io.js'
import type {StatusEventHub} from '../status-events.js'

/**
 * POST /internal/message-status: the backend's receiving end of the status
 * forwarder. The signature is checked over the raw bytes before anything is
 * parsed: 400 for missing or malformed webhook headers, 401 for a bad
 * signature or a timestamp outside five minutes, 200 without effect for an id
 * already received (so the sender stops retrying); then the JSON must match
 * the payload contract (400), and the status goes to the SSE hub.
 */
export async function handleMessageStatus(
  request: IncomingMessage,
  response: ServerResponse,
  context: {verifier: WebhookVerifier | undefined; hub: StatusEventHub},
): Promise<void> {
  const read = await readBody(request)
  if (!read.ok) return sendTooLarge(response)
  if (!context.verifier) {
    return sendError(response, 503, 'STATUS_WEBHOOK_NOT_CONFIGURED', 'BACKEND_STATUS_WEBHOOK_SECRET is not set on this server, so no status can be verified.')
  }
  const verification = context.verifier.verify(request.headers, read.body)
  if (!verification.ok) {
    const status = webhookFailureStatus(verification.reason)
    if (status === 200) return sendJson(response, 200, {accepted: false, duplicate: true})
    return sendError(response, status, `WEBHOOK_${verification.reason.toUpperCase()}`, verification.message)
  }
  let json: unknown
  try {
    json = JSON.parse(read.body.toString('utf8'))
  } catch {
    return sendError(response, 400, 'BODY_NOT_JSON', 'The body is not valid JSON.')
  }
  const parsed = parseMessageStatusPayload(json)
  if (!parsed.ok) return sendError(response, 400, 'PAYLOAD_INVALID', parsed.message)
  const event = context.hub.publish(parsed.payload)
  sendJson(response, 200, {accepted: true, sequence: event.id})
}
