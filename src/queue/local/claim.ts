import {sql, type Kysely} from 'kysely'
import {inWriteTransaction, type Database} from '../../db/database.js'
import {count, epochMs, MAX_RECEIVE_COUNT_REASON, type MessageRow} from './rows.js'

/* eslint-disable @typescript-eslint/no-explicit-any */

export interface ClaimRequest {
  queueName: string
  /** Epoch ms: messages visible at or before this are candidates. */
  now: number
  /** Epoch ms the claimed messages stay hidden until. */
  hiddenUntil: number
  limit: number
  maxReceiveCount: number
}

export interface ClaimResult {
  /** Claimed rows with their new receipt handle and receive count, oldest first. */
  rows: MessageRow[]
  /** Candidates moved to the dead-letter table instead of being delivered. */
  deadLettered: number
}

const COLUMNS = sql.raw('id, body, attributes_json, md5_of_body, sent_at, receive_count, first_received_at, receipt_handle')

/**
 * Claims up to `limit` visible messages of a queue in one atomic step: each
 * gets receive_count + 1, a fresh receipt handle and a new visible_at; the
 * candidates that were already delivered maxReceiveCount times move to the
 * dead-letter table in the same step instead (an SQS redrive policy).
 *
 * PostgreSQL: one statement whose candidate scan takes row locks with SKIP
 * LOCKED, so concurrent receivers split the messages instead of waiting or
 * double-claiming. SQLite: one BEGIN IMMEDIATE transaction, which already
 * serialises receivers across processes.
 */
export function claimMessages(database: Database, request: ClaimRequest): Promise<ClaimResult> {
  return database.dialect === 'postgres' ? claimPostgres(database.db, request) : claimSqlite(database, request)
}

async function claimPostgres(db: Kysely<any>, request: ClaimRequest): Promise<ClaimResult> {
  const {queueName, now, hiddenUntil, limit, maxReceiveCount} = request
  // Data-modifying CTEs all run, once, whether or not the final SELECT reads them; the LEFT JOIN
  // from a one-row table returns the dead-letter count even when nothing was claimed.
  const {rows} = await sql<MessageRow & {dead_lettered: string | number}>`
    WITH picked AS (
      SELECT id, receive_count FROM local_queue_messages
      WHERE queue_name = ${queueName} AND visible_at <= ${now}
      ORDER BY visible_at, sent_at
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    ), dead AS (
      DELETE FROM local_queue_messages AS m USING picked
      WHERE m.id = picked.id AND picked.receive_count >= ${maxReceiveCount}
      RETURNING m.*
    ), moved AS (
      INSERT INTO local_queue_dead_letters (id, queue_name, body, attributes_json, md5_of_body, sent_at, visible_at,
        receive_count, first_received_at, receipt_handle, dead_lettered_at, reason)
      SELECT id, queue_name, body, attributes_json, md5_of_body, sent_at, ${now}::bigint, receive_count, first_received_at, NULL,
        ${now}::bigint, ${MAX_RECEIVE_COUNT_REASON}
      FROM dead
      RETURNING id
    ), claimed AS (
      UPDATE local_queue_messages AS m
      SET receive_count = m.receive_count + 1,
          receipt_handle = m.id || '.' || replace(gen_random_uuid()::text, '-', ''),
          visible_at = ${hiddenUntil},
          first_received_at = COALESCE(m.first_received_at, ${now})
      FROM picked
      WHERE m.id = picked.id AND picked.receive_count < ${maxReceiveCount}
      RETURNING m.id, m.body, m.attributes_json, m.md5_of_body, m.sent_at, m.receive_count, m.first_received_at, m.receipt_handle
    )
    SELECT claimed.*, (SELECT count(*) FROM moved) AS dead_lettered
    FROM (SELECT 1) AS one LEFT JOIN claimed ON true`.execute(db)
  const deadLettered = count(rows[0]?.dead_lettered)
  const claimed = rows.filter((row) => row.id !== null)
  claimed.sort((a, b) => epochMs(a.sent_at) - epochMs(b.sent_at))
  return {rows: claimed, deadLettered}
}

async function claimSqlite(database: Database, request: ClaimRequest): Promise<ClaimResult> {
  const {queueName, now, hiddenUntil, limit, maxReceiveCount} = request
  return inWriteTransaction(database, async (trx) => {
    // Claim first, sort out the exhausted ones after: the common case (none) stays one statement.
    const {rows} = await sql<MessageRow>`
      UPDATE local_queue_messages
      SET receive_count = receive_count + 1,
          receipt_handle = id || '.' || lower(hex(randomblob(16))),
          visible_at = ${hiddenUntil},
          first_received_at = COALESCE(first_received_at, ${now})
      WHERE id IN (
        SELECT id FROM local_queue_messages
        WHERE queue_name = ${queueName} AND visible_at <= ${now}
        ORDER BY visible_at, sent_at
        LIMIT ${limit}
      )
      RETURNING ${COLUMNS}`.execute(trx)
    const exhausted = rows.filter((row) => count(row.receive_count) > maxReceiveCount).map((row) => row.id)
    if (exhausted.length > 0) {
      const ids = sql.join(exhausted)
      // receive_count - 1: the count of deliveries, before the increment this claim made.
      await sql`
        INSERT INTO local_queue_dead_letters (id, queue_name, body, attributes_json, md5_of_body, sent_at, visible_at,
          receive_count, first_received_at, receipt_handle, dead_lettered_at, reason)
        SELECT id, queue_name, body, attributes_json, md5_of_body, sent_at, ${now}, receive_count - 1, first_received_at, NULL,
          ${now}, ${MAX_RECEIVE_COUNT_REASON}
        FROM local_queue_messages WHERE id IN (${ids})`.execute(trx)
      await sql`DELETE FROM local_queue_messages WHERE id IN (${ids})`.execute(trx)
    }
    const claimed = exhausted.length === 0 ? rows : rows.filter((row) => count(row.receive_count) <= maxReceiveCount)
    claimed.sort((a, b) => epochMs(a.sent_at) - epochMs(b.sent_at))
    return {rows: claimed, deadLettered: exhausted.length}
  })
}
