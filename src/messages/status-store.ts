import {sql, type Kysely} from 'kysely'
import type {Database} from '../db/database.js'
import {PreparedQuery} from '../db/prepared-query.js'
import {runSteps, runWriteSteps, step, type QuerySteps} from '../db/query-steps.js'
import {NotFoundError, UsageError} from '../errors/engage-error.js'
import {classifyMove, fromProviderStatus, isFinalStatus, isMessageStatus, statusRankSql, STATUS_RANK, type MessageStatus, type StatusMove} from './status-order.js'

/* eslint-disable @typescript-eslint/no-explicit-any */

export type StatusSource = 'send' | 'twilio-webhook' | 'reconcile' | 'mock'

/** One status report about one message, from whichever path learned it. */
export interface StatusUpdate {
  messageId: string
  /** Our status word (queued … undelivered); a Twilio word (accepted, canceled, …) is mapped. */
  status: string
  /** The provider's own word, kept on the event as received. */
  providerStatus?: string | null
  /** Why, e.g. Twilio "30007: Carrier violation"; stored on the event and, when applied, on the message. */
  reason?: string | null
  source: StatusSource
  /** The provider's report (e.g. the verified callback parameters); stored as JSON on the event. */
  payload?: unknown
  /** ISO-8601 UTC; defaults to now. */
  at?: string
  /** Written to messages.error_code on failed/undelivered; defaults to the number before ':' in `reason`. */
  errorCode?: string | null
  /** Written to messages.error_message on failed/undelivered; defaults to the rest of `reason`. */
  errorMessage?: string | null
}

export interface ApplyStatusResult {
  outcome: StatusMove
  /** The message_status_events row written (every call writes one, applied or not). */
  eventId: number
}

/**
 * Records one status report: a forward move updates the message
 * (status, status_reason, updated_at, and error_code/error_message when it
 * failed) and writes an applied event; a duplicate, backwards or after-final
 * report writes an event with applied = 0 and leaves the message alone.
 *
 * The move is decided by one conditional UPDATE (… WHERE rank(status) <
 * rank(new) AND status not final), so concurrent callers cannot both win or
 * move a message backwards: PostgreSQL re-checks the WHERE on the locked row,
 * SQLite's writers are serialised (BEGIN IMMEDIATE). Given a Database, this
 * runs in its own write transaction; given a Kysely, it runs in whatever
 * transaction the caller holds (pass the transaction so the event and the
 * caller's writes commit together).
 */
export async function applyStatus(db: Kysely<any> | Database, update: StatusUpdate): Promise<ApplyStatusResult> {
  if (isDatabase(db)) return runWriteSteps(db, () => applyStatusSteps(update))
  return runSteps(db, applyStatusSteps(update))
}

const FINAL_WORDS = ['failed', 'undelivered']

/** The conditional forward move (see applyStatus); the rank is compared in SQL, so the row's current status decides. */
function moveStatus(withError: boolean) {
  type Params = {messageId: string; status: string; reason: string | null; at: string; rank: number; errorCode: string | null; errorMessage: string | null}
  return new PreparedQuery<Params>((db, param) =>
    db
      .updateTable('messages')
      .set({
        status: param('status'),
        status_reason: param('reason'),
        updated_at: param('at'),
        ...(withError ? {error_code: param('errorCode'), error_message: param('errorMessage')} : {}),
      })
      .where('id', '=', param('messageId'))
      .where('status', 'not in', FINAL_WORDS)
      .where(sql.raw(statusRankSql('status')), '<', param('rank')),
  )
}

const MOVE_STATUS = moveStatus(false)
const MOVE_TO_FINAL_STATUS = moveStatus(true)

const CURRENT_STATUS = new PreparedQuery<{messageId: string}, {status: string}>((db, param) =>
  db.selectFrom('messages').select('status').where('id', '=', param('messageId')),
)

type EventParams = {
  messageId: string
  status: string
  providerStatus: string | null
  payload: string | null
  at: string
  reason: string | null
  applied: number
  source: string
}

const INSERT_EVENT = new PreparedQuery<EventParams, {id: number | string}>((db, param) =>
  db
    .insertInto('message_status_events')
    .values({
      message_id: param('messageId'),
      status: param('status'),
      provider_status: param('providerStatus'),
      payload_json: param('payload'),
      created_at: param('at'),
      status_reason: param('reason'),
      applied: param('applied'),
      source: param('source'),
    })
    .returning('id'),
)

/**
 * applyStatus as query steps, for callers that run it inside their own steps
 * (runSteps / runWriteSteps). `readStatus` is the message's status as the
 * caller read it, when it did: statuses only move forward, so a report that
 * cannot move the message past what was read cannot move it now, and is
 * recorded without the UPDATE (and without reading the status again). A
 * report that can is still decided by the conditional UPDATE.
 */
export function* applyStatusSteps(update: StatusUpdate, readStatus?: string): QuerySteps<ApplyStatusResult> {
  const status = normaliseStatus(update.status)
  const at = update.at ?? new Date().toISOString()
  const reason = update.reason ?? null
  const refused = readStatus === undefined ? undefined : refusal(readStatus, status)
  const outcome = refused ?? (yield* moveSteps(update, status, reason, at))
  const inserted = yield* step(INSERT_EVENT, {
    messageId: update.messageId,
    status,
    providerStatus: update.providerStatus ?? null,
    payload: update.payload === undefined ? null : JSON.stringify(update.payload),
    at,
    reason,
    applied: outcome === 'applied' ? 1 : 0,
    source: update.source,
  })
  return {outcome, eventId: Number(inserted.rows[0]!.id)}
}

/** Why `next` cannot move a message that is at `current`, or undefined when it can. */
function refusal(current: string, next: MessageStatus): Exclude<StatusMove, 'applied'> | undefined {
  const move = classifyMove(current, next)
  return move === 'applied' ? undefined : move
}

/** The conditional UPDATE, and when it moved nothing, what the message's current status makes of the report. */
function* moveSteps(update: StatusUpdate, status: MessageStatus, reason: string | null, at: string): QuerySteps<StatusMove> {
  const failed = isFinalStatus(status)
  const [parsedCode, parsedMessage] = splitReason(reason)
  const moved = yield* step(failed ? MOVE_TO_FINAL_STATUS : MOVE_STATUS, {
    messageId: update.messageId,
    status,
    reason,
    at,
    rank: STATUS_RANK[status],
    errorCode: update.errorCode !== undefined ? update.errorCode : parsedCode,
    errorMessage: update.errorMessage !== undefined ? update.errorMessage : parsedMessage,
  })
  if (moved.changes > 0) return 'applied'
  const [current] = (yield* step(CURRENT_STATUS, {messageId: update.messageId})).rows
  if (!current) {
    throw new NotFoundError(`No message with id ${update.messageId}; its status cannot be recorded.`, {
      code: 'MESSAGE_NOT_FOUND',
      details: {messageId: update.messageId},
      suggestions: ['Check the message id; statuses are only kept for messages in the messages table.'],
    })
  }
  // The UPDATE found nothing to move, so the only other answer classifyMove may give is a refusal.
  return refusal(String(current.status), status) ?? 'backwards'
}

/** Our status for a word from any writer: ours as is, Twilio's mapped, anything else refused. */
export function normaliseStatus(word: string): MessageStatus {
  if (isMessageStatus(word)) return word
  const mapped = fromProviderStatus('twilio', word)
  if (mapped) return mapped
  throw new UsageError(`"${word.slice(0, 40)}" is not a message status.`, {
    code: 'UNKNOWN_MESSAGE_STATUS',
    suggestions: ['Use one of queued, sending, sent, delivered, read, failed, undelivered (or a Twilio status word).'],
  })
}

/** "30007: Carrier violation" → ["30007", "Carrier violation"]; "30007" → ["30007", null]; a reason without a code → [null, reason]. */
export function splitReason(reason: string | null): [string | null, string | null] {
  if (!reason) return [null, null]
  if (/^\d+$/.test(reason.trim())) return [reason.trim(), null]
  const match = /^(\w+):\s*(.*)$/s.exec(reason)
  return match ? [match[1]!, match[2] || null] : [null, reason]
}

export function isDatabase(value: Kysely<any> | Database): value is Database {
  return typeof (value as Database).dialect === 'string' && 'db' in value && 'target' in value
}
