import {encodeQueueBody} from '../queue/message-queue.js'
import type {MessagingChannel} from '../messaging/recipients.js'

/**
 * The body of one queue message: which `messages` row to send. The row is
 * the source of truth (recipient, body, status); the job only points at it,
 * so a redelivered or re-driven job can never send stale content, and the
 * sender decides from the row whether a send already happened.
 */
export interface SendJob {
  /** Schema version of this body, so a sender can refuse what it does not understand. */
  v: 1
  messageId: string
  tenantId: string
  channel: MessagingChannel
  campaignId: string | null
}

/** Queue message attributes carried beside the body (visible to filters and `engage dlq list`). */
export function sendJobAttributes(job: SendJob): Record<string, string> {
  return {tenantId: job.tenantId, channel: job.channel, ...(job.campaignId ? {campaignId: job.campaignId} : {})}
}

export function encodeSendJob(job: SendJob): string {
  return encodeQueueBody(job)
}

/** Parses a queue body; a body that is not a version-1 send job is an error naming what is wrong. */
export function decodeSendJob(body: string): SendJob {
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch {
    throw new Error('The queue message body is not JSON.')
  }
  const job = parsed as Partial<SendJob> | null
  if (!job || typeof job !== 'object' || job.v !== 1) throw new Error('The queue message body is not a version-1 send job.')
  if (typeof job.messageId !== 'string' || job.messageId === '') throw new Error('The send job has no messageId.')
  if (typeof job.tenantId !== 'string' || job.tenantId === '') throw new Error('The send job has no tenantId.')
  if (job.channel !== 'sms' && job.channel !== 'whatsapp' && job.channel !== 'email') throw new Error('The send job names no known channel.')
  return {v: 1, messageId: job.messageId, tenantId: job.tenantId, channel: job.channel, campaignId: job.campaignId ?? null}
}
