import type {Database} from '../db/database.js'
import {decodeSendJob, type SendJob} from '../pipeline/send-job.js'

/** Statuses after which a message has been handed to the provider (or given up on): never sent again. */
export const DONE_STATUSES = ['sent', 'delivered', 'read', 'failed', 'undelivered'] as const

export type JobVerdict =
  | {kind: 'redrive'; job: SendJob}
  | {kind: 'already-sent'; job: SendJob; status: string}
  | {kind: 'message-missing'; job: SendJob}
  | {kind: 'unreadable'; error: string}

// Ids per IN (...) list.
const ID_CHUNK = 500

/**
 * Decides, for each dead-lettered queue body, whether re-enqueueing it may
 * send anything: a job whose message has a provider_message_id, or a status
 * of {@link DONE_STATUSES}, was already sent (or finally failed) and is
 * 'already-sent'; a job whose message row is gone is 'message-missing'; a
 * body that is not a send job is 'unreadable'. The database, not the queue,
 * is the truth about what was sent.
 */
export async function judgeJobs(database: Database, bodies: readonly string[]): Promise<JobVerdict[]> {
  const decoded = bodies.map((body): SendJob | {error: string} => {
    try {
      return decodeSendJob(body)
    } catch (error) {
      return {error: (error as Error).message}
    }
  })
  const ids = [...new Set(decoded.flatMap((entry) => ('messageId' in entry ? [entry.messageId] : [])))]
  const rows = new Map<string, {status: string; provider_message_id: string | null; tenant_id: string}>()
  for (let start = 0; start < ids.length; start += ID_CHUNK) {
    const found = await database.db
      .selectFrom('messages')
      .select(['id', 'status', 'provider_message_id', 'tenant_id'])
      .where('id', 'in', ids.slice(start, start + ID_CHUNK))
      .execute()
    for (const row of found) rows.set(row.id as string, row as {status: string; provider_message_id: string | null; tenant_id: string})
  }
  return decoded.map((entry): JobVerdict => {
    if (!('messageId' in entry)) return {kind: 'unreadable', error: entry.error}
    const row = rows.get(entry.messageId)
    // A job naming another tenant's message is treated as missing: it must not send that message.
    if (!row || row.tenant_id !== entry.tenantId) return {kind: 'message-missing', job: entry}
    if (row.provider_message_id || (DONE_STATUSES as readonly string[]).includes(row.status)) return {kind: 'already-sent', job: entry, status: row.status}
    return {kind: 'redrive', job: entry}
  })
}
