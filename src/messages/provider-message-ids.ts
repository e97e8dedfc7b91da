import type {Kysely} from 'kysely'
import {inWriteTransaction, type Database} from '../db/database.js'
import {NotFoundError, UsageError} from '../errors/engage-error.js'
import {unappliedCallbacks} from './pending-callbacks.js'
import {lockProviderMessageId} from './sid-lock.js'
import {applyStatus, isDatabase, type ApplyStatusResult} from './status-store.js'
import {fromProviderStatus, isMessageStatus} from './status-order.js'

/* eslint-disable @typescript-eslint/no-explicit-any */

/** The columns the status paths need of a message found by its provider id. */
export interface MessageByProviderId {
  id: string
  tenant_id: string
  channel: string
  provider: string | null
  status: string
  provider_message_id: string
}

/**
 * The message holding this provider message id (Twilio SID, SES message id),
 * or undefined. Uses idx_messages_provider_message_id (migration 0003). When
 * `tenantId` is given, a message of another tenant does not match.
 */
export async function findMessageByProviderId(
  db: Kysely<any> | Database,
  providerMessageId: string,
  tenantId?: string,
): Promise<MessageByProviderId | undefined> {
  const kysely = isDatabase(db) ? db.db : db
  let query = kysely
    .selectFrom('messages')
    .select(['id', 'tenant_id', 'channel', 'provider', 'status', 'provider_message_id'])
    .where('provider_message_id', '=', providerMessageId)
  if (tenantId !== undefined) query = query.where('tenant_id', '=', tenantId)
  return (await query.orderBy('id').executeTakeFirst()) as MessageByProviderId | undefined
}

export interface StoreProviderMessageIdResult {
  /** The status the provider's acceptance word maps to, through applyStatus (source `send`). */
  accepted: ApplyStatusResult
  /** Kept callbacks for this SID applied now, in the order they were received. */
  pendingApplied: ApplyStatusResult[]
  /** Event ids of every status that was applied (for the backend forwarder's wake-up). */
  appliedEventIds: number[]
}

/**
 * Stores the id the provider gave a message, with sent_at, records the
 * provider's acceptance status (Twilio `queued`/`accepted` → queued, SES
 * `accepted` → sent) and applies any callbacks kept for that id before it was
 * stored, oldest first, all through applyStatus and in one transaction (its
 * own when given a Database; the caller's write transaction when given a
 * Kysely: pass a transaction, not the pool, so the per-SID lock holds). The kept
 * callbacks are marked applied. Storing the same id again is harmless; a
 * different id for a message that has one is refused.
 */
export async function storeProviderMessageId(
  db: Kysely<any> | Database,
  messageId: string,
  providerMessageId: string,
  providerStatus: string,
  options: {at?: string; provider?: 'twilio' | 'ses'} = {},
): Promise<StoreProviderMessageIdResult> {
  if (isDatabase(db)) return inWriteTransaction(db, (trx) => storeProviderMessageId(trx, messageId, providerMessageId, providerStatus, options))
  const at = options.at ?? new Date().toISOString()
  await lockProviderMessageId(db, providerMessageId)
  const message = await db.selectFrom('messages').select(['id', 'tenant_id', 'provider', 'provider_message_id']).where('id', '=', messageId).executeTakeFirst()
  if (!message) {
    throw new NotFoundError(`No message with id ${messageId}; its provider message id cannot be stored.`, {code: 'MESSAGE_NOT_FOUND', details: {messageId}})
  }
  if (message.provider_message_id !== null && message.provider_message_id !== providerMessageId) {
    throw new UsageError(`Message ${messageId} already has a different provider message id; a message is sent once.`, {
      code: 'PROVIDER_MESSAGE_ID_CONFLICT',
      details: {messageId, stored: message.provider_message_id, offered: providerMessageId},
      suggestions: ['Reconcile the message from the provider instead of storing a second id.'],
    })
  }
  await db
    .updateTable('messages')
    .set({provider_message_id: providerMessageId, sent_at: at, updated_at: at})
    .where('id', '=', messageId)
    .execute()

  const provider = options.provider ?? (message.provider === 'ses' ? 'ses' : 'twilio')
  const status = fromProviderStatus(provider, providerStatus) ?? (isMessageStatus(providerStatus) ? providerStatus : 'queued')
  const accepted = await applyStatus(db, {messageId, status, providerStatus, source: 'send', at})

  const pendingApplied: ApplyStatusResult[] = []
  for (const pending of await unappliedCallbacks(db, providerMessageId)) {
    // Kept under another tenant (an account shared by tenants, or a forged SID): the SID now has its owner,
    // so that copy can never apply; it is closed without touching the message.
    if (pending.tenant_id !== message.tenant_id) {
      await db.updateTable('pending_status_callbacks').set({applied_at: at}).where('id', '=', pending.id).execute()
      continue
    }
    const params = JSON.parse(pending.params_json) as Record<string, string>
    pendingApplied.push(
      await applyStatus(db, {
        messageId,
        status: pending.status,
        providerStatus: params.MessageStatus ?? params.SmsStatus ?? null,
        reason: twilioReason(params),
        errorCode: params.ErrorCode || null,
        errorMessage: params.ErrorMessage || null,
        source: 'twilio-webhook',
        payload: params,
        at: pending.received_at,
      }),
    )
    await db.updateTable('pending_status_callbacks').set({applied_at: at}).where('id', '=', pending.id).execute()
  }
  const appliedEventIds = [accepted, ...pendingApplied].filter((r) => r.outcome === 'applied').map((r) => r.eventId)
  return {accepted, pendingApplied, appliedEventIds}
}

/** `${ErrorCode}: ${ErrorMessage}` from Twilio callback parameters, or null when Twilio sent no error. */
export function twilioReason(params: Readonly<Record<string, string>>): string | null {
  const code = params.ErrorCode?.trim()
  const message = params.ErrorMessage?.trim()
  if (code && message) return `${code}: ${message}`
  if (code) return code
  return message || null
}
