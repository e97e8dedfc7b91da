import {sql, type Kysely} from 'kysely'
import {inWriteTransaction, type Database} from '../db/database.js'
import type {MessageStatusData} from './status-payload.js'

/* eslint-disable @typescript-eslint/no-explicit-any */

/**
 * The forwarder's view of `message_status_events` (columns of migration
 * 0005): the applied events not yet delivered to the backend act as an
 * outbox. A claimed event carries a lease in `backend_next_attempt_at`, so
 * other forwarders skip it until the lease runs out; the lease value doubles
 * as the claim token, so a forwarder whose lease expired cannot overwrite the
 * outcome recorded by the one that took over.
 */
export interface ClaimedEvent {
  data: MessageStatusData
  /** The lease this claim holds (the row's backend_next_attempt_at). */
  leaseUntil: string
  /** Failed attempts before this one. */
  attempts: number
}

/**
 * Due, and the oldest undelivered applied event of its message: a message's statuses reach the
 * backend in order, and one that keeps failing holds back the later ones of that message only.
 */
const DUE = (now: string) => sql`e.applied = 1 AND e.backend_delivered_at IS NULL
  AND (e.backend_next_attempt_at IS NULL OR e.backend_next_attempt_at <= ${now})
  AND NOT EXISTS (SELECT 1 FROM message_status_events AS earlier
    WHERE earlier.message_id = e.message_id AND earlier.id < e.id AND earlier.applied = 1 AND earlier.backend_delivered_at IS NULL)`

/**
 * Claims up to `limit` due events, oldest first and at most one per message, by setting their lease. PostgreSQL: one statement
 * whose scan locks with SKIP LOCKED, so concurrent forwarders split the rows. SQLite: one BEGIN
 * IMMEDIATE transaction, which serialises forwarders across processes.
 */
export async function claimDueEvents(database: Database, request: {now: string; leaseUntil: string; limit: number}): Promise<ClaimedEvent[]> {
  const {now, leaseUntil, limit} = request
  let ids: number[]
  if (database.dialect === 'postgres') {
    const {rows} = await sql<{id: number | string}>`
      WITH picked AS (
        SELECT e.id FROM message_status_events AS e
        WHERE ${DUE(now)}
        ORDER BY e.id
        LIMIT ${limit}
        FOR UPDATE OF e SKIP LOCKED
      )
      UPDATE message_status_events AS e SET backend_next_attempt_at = ${leaseUntil}
      FROM picked WHERE e.id = picked.id
      RETURNING e.id`.execute(database.db)
    ids = rows.map((row) => Number(row.id))
  } else {
    ids = await inWriteTransaction(database, async (trx) => {
      const {rows} = await sql<{id: number}>`
        SELECT e.id FROM message_status_events AS e WHERE ${DUE(now)} ORDER BY e.id LIMIT ${limit}`.execute(trx)
      const picked = rows.map((row) => Number(row.id))
      if (picked.length > 0) {
        await trx.updateTable('message_status_events').set({backend_next_attempt_at: leaseUntil}).where('id', 'in', picked).execute()
      }
      return picked
    })
  }
  if (ids.length === 0) return []
  return loadClaimed(database.db, ids, leaseUntil)
}

async function loadClaimed(db: Kysely<any>, ids: number[], leaseUntil: string): Promise<ClaimedEvent[]> {
  const rows = await db
    .selectFrom('message_status_events as e')
    .innerJoin('messages as m', 'm.id', 'e.message_id')
    .select([
      'e.id as event_id',
      'e.message_id',
      'e.status',
      'e.provider_status',
      'e.status_reason',
      'e.created_at',
      'e.backend_attempts',
      'e.backend_next_attempt_at',
      'm.tenant_id',
      'm.campaign_id',
      'm.channel',
      'm.provider_message_id',
    ])
    .where('e.id', 'in', ids)
    .orderBy('e.id')
    .execute()
  // A row whose lease changed between the claim and this read was taken over; it is not ours to post.
  return rows
    .filter((row) => row.backend_next_attempt_at === leaseUntil)
    .map((row) => ({
      leaseUntil,
      attempts: Number(row.backend_attempts),
      data: {
        eventId: Number(row.event_id),
        messageId: row.message_id,
        tenantId: row.tenant_id,
        campaignId: row.campaign_id ?? null,
        channel: row.channel,
        status: row.status,
        providerStatus: row.provider_status ?? null,
        statusReason: row.status_reason ?? null,
        providerMessageId: row.provider_message_id ?? null,
        occurredAt: row.created_at,
      },
    }))
}

/** Records 2xx answers from the backend, in one statement. Idempotent: an event delivered twice keeps its first time. */
export async function markDelivered(database: Database, eventIds: number[], at: string): Promise<void> {
  if (eventIds.length === 0) return
  await database.db
    .updateTable('message_status_events')
    .set({backend_delivered_at: at, backend_next_attempt_at: null})
    .where('id', 'in', eventIds)
    .where('backend_delivered_at', 'is', null)
    .execute()
}

/** Records a failed attempt and when to try again, unless the claim was lost or the event was delivered meanwhile. */
export async function markFailed(
  database: Database,
  event: {eventId: number; leaseUntil: string; error: string; nextAttemptAt: string},
): Promise<void> {
  await database.db
    .updateTable('message_status_events')
    .set({
      backend_attempts: sql`backend_attempts + 1`,
      backend_last_error: event.error,
      backend_next_attempt_at: event.nextAttemptAt,
    })
    .where('id', '=', event.eventId)
    .where('backend_delivered_at', 'is', null)
    .where('backend_next_attempt_at', '=', event.leaseUntil)
    .execute()
}

/** Applied events not delivered yet, due or waiting for a retry. */
export async function countUndelivered(database: Database): Promise<number> {
  const row = await database.db
    .selectFrom('message_status_events')
    .select((eb) => eb.fn.countAll().as('count'))
    .where('applied', '=', 1)
    .where('backend_delivered_at', 'is', null)
    .executeTakeFirst()
  return Number(row?.count ?? 0)
}
