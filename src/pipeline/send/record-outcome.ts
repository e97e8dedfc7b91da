import type {Kysely} from 'kysely'
import {inWriteTransaction, type Database} from '../../db/database.js'
import {applyStatus, type StatusSource} from '../../messages/status-store.js'
import {storeProviderMessageId} from '../../messages/provider-message-ids.js'
import {statusAfterAcceptance} from './status-words.js'

export interface Accepted {
  messageId: string
  providerMessageId: string
  /** The provider's own word (Twilio `queued`/`accepted`, SES `accepted`). */
  providerStatus: string
  /** `send` after our own call; `reconcile` when an earlier attempt's message was found at the provider. */
  source: Extract<StatusSource, 'send' | 'reconcile'>
  at: Date
}

/**
 * Records that the provider has the message, in one transaction: the status
 * it reached (`sent` for an accepted message) through applyStatus, then
 * storeProviderMessageId, which stores the id and sent_at, records the
 * provider's own acceptance word as an event (Twilio's `queued` ranks below
 * `sent`, so it is kept unapplied), and applies callbacks that arrived before
 * the id was stored. Status first, so a kept `delivered` moves forward from
 * `sent` instead of being overtaken by it. Returns the applied event ids.
 */
export async function recordAccepted(database: Database, accepted: Accepted): Promise<number[]> {
  return inWriteTransaction(database, (trx) => recordAcceptedIn(trx, accepted))
}

/** recordAccepted's writes inside the caller's write transaction (several messages may share one, see GroupedWrites). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function recordAcceptedIn(trx: Kysely<any>, accepted: Accepted): Promise<number[]> {
  const at = accepted.at.toISOString()
  const status = await applyStatus(trx, {
    messageId: accepted.messageId,
    status: statusAfterAcceptance(accepted.providerStatus),
    providerStatus: accepted.providerStatus,
    source: accepted.source,
    payload: {providerMessageId: accepted.providerMessageId},
    at,
  })
  const stored = await storeProviderMessageId(trx, accepted.messageId, accepted.providerMessageId, accepted.providerStatus, {at})
  return [...(status.outcome === 'applied' ? [status.eventId] : []), ...stored.appliedEventIds]
}

export interface PermanentFailure {
  messageId: string
  errorCode: string
  errorMessage: string
  /** What status_reason says, e.g. "21211: Invalid 'To' Phone Number". */
  reason: string
  at: Date
}

/** Marks the message failed with the provider's code and reason; the claim stays as a record of the attempt. */
export async function recordPermanentFailure(database: Database, failure: PermanentFailure): Promise<number[]> {
  return inWriteTransaction(database, async (trx) => {
    const result = await applyStatus(trx, {
      messageId: failure.messageId,
      status: 'failed',
      reason: failure.reason,
      errorCode: failure.errorCode,
      errorMessage: failure.errorMessage,
      source: 'send',
      at: failure.at.toISOString(),
    })
    return result.outcome === 'applied' ? [result.eventId] : []
  })
}

/** SIDs among `sids` that some message row already holds. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function storedProviderIds(db: Kysely<any>, sids: string[]): Promise<Set<string>> {
  if (sids.length === 0) return new Set()
  const rows = await db.selectFrom('messages').select('provider_message_id').where('provider_message_id', 'in', sids).execute()
  return new Set(rows.map((row) => String(row.provider_message_id)))
}
