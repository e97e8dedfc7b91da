import type {Kysely} from 'kysely'

/* eslint-disable @typescript-eslint/no-explicit-any */

/** A verified provider callback for a SID no message holds yet. */
export interface PendingCallback {
  providerMessageId: string
  tenantId: string
  /** Our status word the callback reports. */
  status: string
  /** The verified form parameters, exactly as signed. */
  params: Readonly<Record<string, string>>
  /** ISO-8601 UTC; defaults to now. */
  receivedAt?: string
}

export interface PendingCallbackRow {
  id: number
  provider_message_id: string
  tenant_id: string
  status: string
  params_json: string
  received_at: string
  applied_at: string | null
}

/**
 * Keeps a verified callback that arrived before the sender stored the SID it
 * names (Twilio can call back before the send's response is written). It is
 * applied by storeProviderMessageId, never dropped. Returns the row id.
 */
export async function keepPendingCallback(db: Kysely<any>, callback: PendingCallback): Promise<number> {
  const row = await db
    .insertInto('pending_status_callbacks')
    .values({
      provider_message_id: callback.providerMessageId,
      tenant_id: callback.tenantId,
      status: callback.status,
      params_json: JSON.stringify(callback.params),
      received_at: callback.receivedAt ?? new Date().toISOString(),
      applied_at: null,
    })
    .returning('id')
    .executeTakeFirstOrThrow()
  return Number(row.id)
}

/** The unapplied callbacks kept for a SID, oldest first (received_at, then id). */
export async function unappliedCallbacks(db: Kysely<any>, providerMessageId: string): Promise<PendingCallbackRow[]> {
  const rows = await db
    .selectFrom('pending_status_callbacks')
    .selectAll()
    .where('provider_message_id', '=', providerMessageId)
    .where('applied_at', 'is', null)
    .orderBy('received_at')
    .orderBy('id')
    .execute()
  return rows.map((row) => ({...row, id: Number(row.id)}) as PendingCallbackRow)
}
