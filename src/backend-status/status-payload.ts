/**
 * The body the forwarder POSTs to the backend for one applied status, and the
 * webhook id it is sent under. `engage serve` parses the same shape, so the
 * contract lives in one place.
 *
 * Deliveries are at least once and may arrive out of order across messages
 * (and, after a retry, within one message): receivers dedupe on the
 * `webhook-id` and order one message's statuses by `eventId`, which grows
 * monotonically with each event written.
 */
export const MESSAGE_STATUS_EVENT_TYPE = 'message.status'

export interface MessageStatusData {
  eventId: number
  messageId: string
  tenantId: string
  campaignId: string | null
  channel: string
  status: string
  providerStatus: string | null
  statusReason: string | null
  providerMessageId: string | null
  /** When the status was recorded (message_status_events.created_at), ISO-8601 UTC. */
  occurredAt: string
}

export interface MessageStatusPayload {
  type: typeof MESSAGE_STATUS_EVENT_TYPE
  data: MessageStatusData
}

/** The Standard Webhooks id of an event: the same on every retry, so receivers drop repeats. */
export function webhookIdForEvent(eventId: number): string {
  return `msgstatus_${eventId}`
}

export type PayloadParse = {ok: true; payload: MessageStatusPayload} | {ok: false; message: string}

const REQUIRED_TEXT = ['messageId', 'tenantId', 'channel', 'status', 'occurredAt'] as const
const NULLABLE_TEXT = ['campaignId', 'providerStatus', 'statusReason', 'providerMessageId'] as const

/**
 * Checks a received JSON value against the payload contract. Returns a
 * message naming the first field that is wrong; never throws.
 */
export function parseMessageStatusPayload(value: unknown): PayloadParse {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return {ok: false, message: 'The body must be a JSON object.'}
  const {type, data} = value as {type?: unknown; data?: unknown}
  if (type !== MESSAGE_STATUS_EVENT_TYPE) return {ok: false, message: `"type" must be "${MESSAGE_STATUS_EVENT_TYPE}".`}
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return {ok: false, message: '"data" must be an object.'}
  const record = data as Record<string, unknown>
  if (!Number.isSafeInteger(record.eventId) || (record.eventId as number) < 1) {
    return {ok: false, message: '"data.eventId" must be a positive integer.'}
  }
  for (const field of REQUIRED_TEXT) {
    if (typeof record[field] !== 'string' || record[field] === '') return {ok: false, message: `"data.${field}" must be a non-empty string.`}
  }
  for (const field of NULLABLE_TEXT) {
    const fieldValue = record[field] ?? null
    if (fieldValue !== null && typeof fieldValue !== 'string') return {ok: false, message: `"data.${field}" must be a string or null.`}
  }
  const payload: MessageStatusPayload = {
    type: MESSAGE_STATUS_EVENT_TYPE,
    data: {
      eventId: record.eventId as number,
      messageId: record.messageId as string,
      tenantId: record.tenantId as string,
      campaignId: (record.campaignId as string | null | undefined) ?? null,
      channel: record.channel as string,
      status: record.status as string,
      providerStatus: (record.providerStatus as string | null | undefined) ?? null,
      statusReason: (record.statusReason as string | null | undefined) ?? null,
      providerMessageId: (record.providerMessageId as string | null | undefined) ?? null,
      occurredAt: record.occurredAt as string,
    },
  }
  return {ok: true, payload}
}
