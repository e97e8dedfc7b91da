import type {Database} from '../../db/database.js'

/** What the database says about one smoke message at one moment. */
export interface MessageProgress {
  status: string
  sentAt: string | null
  reason: string | null
  /** Earliest applied event time per status (sent, delivered, read, failed, …). */
  events: Map<string, string>
}

/**
 * Reads the campaign's messages and their applied status events in two
 * queries. `sent` is when the provider accepted the message (messages.sent_at,
 * stamped with the provider id), falling back to the applied `sent` event.
 */
export async function readCampaignProgress(database: Database, campaignId: string): Promise<Map<string, MessageProgress>> {
  const rows = await database.db
    .selectFrom('messages')
    .select(['id', 'status', 'sent_at', 'status_reason', 'error_code', 'error_message'])
    .where('campaign_id', '=', campaignId)
    .execute()
  const progress = new Map<string, MessageProgress>()
  for (const row of rows) {
    const reason = (row.status_reason as string | null) ?? ([row.error_code, row.error_message].filter(Boolean).join(': ') || null)
    progress.set(row.id as string, {status: row.status as string, sentAt: (row.sent_at as string | null) ?? null, reason, events: new Map()})
  }
  if (progress.size === 0) return progress
  const events = await database.db
    .selectFrom('message_status_events')
    .select(['message_id', 'status', 'created_at'])
    .where('message_id', 'in', [...progress.keys()])
    .where('applied', '=', 1)
    .orderBy('id')
    .execute()
  for (const event of events) {
    const entry = progress.get(event.message_id as string)
    if (entry && !entry.events.has(event.status as string)) entry.events.set(event.status as string, String(event.created_at))
  }
  return progress
}
