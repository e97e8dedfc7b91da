import {randomUUID} from 'node:crypto'
import type {Kysely} from 'kysely'
import {inWriteTransaction, type Database} from '../../db/database.js'
import {applyStatus} from '../../messages/status-store.js'
import {loadSendableMessage, type SendableMessage} from './message-row.js'
import {isSentOrFinal} from './status-words.js'

/**
 * A claim whose holder knows its provider call is over but not how it ended
 * (a 5xx or a connection lost mid-request): the next delivery may reconcile
 * at once instead of waiting for the claim to time out.
 */
const OUTCOME_UNKNOWN_PREFIX = 'unknown:'

/** What the claim step decided for one message. */
export type ClaimDecision =
  /** The message is ours to send. With `reconcile`, an earlier attempt may have reached the provider: look first. */
  | {kind: 'claimed'; message: SendableMessage; claimId: string; reconcile: boolean; eventIds: number[]}
  /** Sent, delivered or failed already, or a provider id is stored: acknowledge, never call the provider. */
  | {kind: 'done'; message: SendableMessage}
  /** Another attempt holds a fresh claim (its call may be in flight): retry later. */
  | {kind: 'in-flight'; message: SendableMessage}
  /** No such row. */
  | {kind: 'missing'}
  /** A status the sender does not act on (not queued or sending). */
  | {kind: 'unsendable'; message: SendableMessage}

export interface ClaimOptions {
  now: Date
  claimTimeoutMs: number
}

/**
 * Takes the right to call the provider for one message, in one short write
 * transaction, so that of any number of concurrent or repeated deliveries of
 * its queue record exactly one proceeds. Claimable: status `queued` or
 * `sending` with no provider id and no claim (a released one included); or a
 * claim that is stale (older than `claimTimeoutMs`, so its holder is gone) or
 * marked outcome-unknown, which is taken over with `reconcile` set: the
 * caller must look for the message at the provider before sending. A fresh claim moves the message to `sending`
 * through applyStatus (source `send`) and counts one attempt.
 */
export async function claimMessage(database: Database, messageId: string, options: ClaimOptions): Promise<ClaimDecision> {
  return inWriteTransaction(database, (trx) => claimIn(trx, database, messageId, options))
}

/**
 * claimMessage for several messages in one write transaction, each decided
 * exactly as alone: a message named twice is claimed by its first record
 * and found in flight by the second. On PostgreSQL the rows are locked in id
 * order, so two batches sharing messages cannot deadlock. One failure rolls
 * back every claim of the call. Decisions come back in the order of `messageIds`.
 */
export async function claimMessages(database: Database, messageIds: readonly string[], options: ClaimOptions): Promise<ClaimDecision[]> {
  const order = messageIds.map((id, index) => ({id, index})).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : a.index - b.index))
  return inWriteTransaction(database, async (trx) => {
    const decisions = new Array<ClaimDecision>(messageIds.length)
    for (const {id, index} of order) decisions[index] = await claimIn(trx, database, id, options)
    return decisions
  })
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function claimIn(trx: Kysely<any>, database: Database, messageId: string, options: ClaimOptions): Promise<ClaimDecision> {
  const message = await loadSendableMessage(trx, messageId, {lock: database.dialect === 'postgres'})
  if (!message) return {kind: 'missing'}
  if (message.provider_message_id !== null || isSentOrFinal(message.status)) return {kind: 'done', message}
  if (message.status !== 'queued' && message.status !== 'sending') return {kind: 'unsendable', message}
  const at = options.now.toISOString()
  const claimId = randomUUID()
  if (message.send_claim_id === null) {
    const eventIds: number[] = []
    await trx
      .updateTable('messages')
      .set({send_claim_id: claimId, send_claimed_at: at, attempts: message.attempts + 1, updated_at: at})
      .where('id', '=', message.id)
      .execute()
    if (message.status === 'queued') {
      const result = await applyStatus(trx, {messageId: message.id, status: 'sending', source: 'send', at})
      if (result.outcome === 'applied') eventIds.push(result.eventId)
    }
    return {kind: 'claimed', message: {...message, send_claim_id: claimId, send_claimed_at: at}, claimId, reconcile: false, eventIds}
  }
  const unknownOutcome = message.send_claim_id.startsWith(OUTCOME_UNKNOWN_PREFIX)
  const claimedAt = message.send_claimed_at === null ? 0 : Date.parse(message.send_claimed_at)
  const stale = !(claimedAt > options.now.getTime() - options.claimTimeoutMs)
  if (!unknownOutcome && !stale) return {kind: 'in-flight', message}
  // Taking over: the attempt count waits until reconciliation decides to send again.
  await trx.updateTable('messages').set({send_claim_id: claimId, send_claimed_at: at, updated_at: at}).where('id', '=', message.id).execute()
  return {
    kind: 'claimed',
    message: {...message, send_claim_id: claimId, send_claimed_at: at},
    claimId,
    reconcile: true,
    eventIds: [],
  }
}

/** Counts one more provider call under a held claim (a send after reconciliation found nothing). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function countAttempt(db: Kysely<any>, messageId: string, claimId: string, now: Date): Promise<void> {
  await db
    .updateTable('messages')
    .set((eb) => ({attempts: eb('attempts', '+', 1), updated_at: now.toISOString()}))
    .where('id', '=', messageId)
    .where('send_claim_id', '=', claimId)
    .execute()
}

/**
 * Gives the claim back after the provider definitely did not create the
 * message (429, a refused connection): the next delivery sends. The status
 * stays `sending`, because statuses only move forward; the claim rule treats
 * `sending` without a claim as claimable.
 */
export async function releaseClaim(database: Database, messageId: string, claimId: string, now: Date): Promise<void> {
  await database.db
    .updateTable('messages')
    .set({send_claim_id: null, send_claimed_at: null, updated_at: now.toISOString()})
    .where('id', '=', messageId)
    .where('send_claim_id', '=', claimId)
    .execute()
}

/**
 * Marks the claim's provider call as over with an unknown outcome (5xx, a
 * connection lost mid-request): the next delivery reconciles without waiting
 * for the claim timeout, and never sends blindly.
 */
export async function markOutcomeUnknown(database: Database, messageId: string, claimId: string, now: Date): Promise<void> {
  await database.db
    .updateTable('messages')
    .set({send_claim_id: `${OUTCOME_UNKNOWN_PREFIX}${claimId}`, updated_at: now.toISOString()})
    .where('id', '=', messageId)
    .where('send_claim_id', '=', claimId)
    .execute()
}
