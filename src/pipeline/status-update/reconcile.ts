import type {Logger} from '../../cli/logger.js'
import {getChannelSettings, type Channel} from '../../channel-settings/settings-repository.js'
import type {Keyring} from '../../crypto/encryption-key.js'
import {inWriteTransaction, type Database} from '../../db/database.js'
import {applyStatus, fromProviderStatus} from '../../messages/index.js'
import type {MessageProvider} from '../../providers/message-provider.js'
import {providerFromSettings} from '../../providers/provider-factory.js'
import type {MockChannel} from './mock-advance.js'

/** Statuses a provider may still move on its own; a message sitting in one of them too long is asked about. */
export const RECONCILED_STATUSES = ['queued', 'sending', 'sent'] as const

export interface ReconcileOptions {
  keyring: Keyring
  get: (name: string) => string | undefined
  /** Messages last updated before this (ISO-8601 UTC) are stale. */
  staleBefore: string
  at: string
  limit: number
  /** Channels of mock providers: their ids mean nothing to Twilio. */
  skip: readonly MockChannel[]
  logger?: Logger
}

export interface ReconcileResult {
  checked: number
  /** Messages whose status moved because of what the provider said. */
  reconciled: number
  errors: number
  eventIds: number[]
}

/**
 * Asks the provider about Twilio messages stuck in a non-final status (with
 * a provider id, updated before `staleBefore`), oldest first, and records
 * what it says through applyStatus (source `reconcile`): a missed callback
 * is made good, never a backwards move. A provider or tenant that cannot be
 * asked counts as an error for each of its messages and the rest go on.
 */
export async function reconcileStaleMessages(database: Database, options: ReconcileOptions): Promise<ReconcileResult> {
  const result: ReconcileResult = {checked: 0, reconciled: 0, errors: 0, eventIds: []}
  const skip = new Set(options.skip.map((item) => `${item.tenantId}\u0000${item.channel}`))
  const stale = await database.db
    .selectFrom('messages')
    .select(['id', 'tenant_id', 'channel', 'status', 'provider_message_id'])
    .where('status', 'in', [...RECONCILED_STATUSES])
    .where('provider_message_id', 'is not', null)
    .where('provider', '=', 'twilio')
    .where('updated_at', '<', options.staleBefore)
    .orderBy('updated_at')
    .orderBy('id')
    .limit(options.limit)
    .execute()

  const providers = new Map<string, Promise<MessageProvider>>()
  for (const message of stale) {
    const key = `${message.tenant_id}\u0000${message.channel}`
    if (skip.has(key)) continue
    result.checked++
    try {
      if (!providers.has(key)) providers.set(key, providerFor(database, String(message.tenant_id), message.channel as Channel, options))
      const provider = await providers.get(key)!
      if (!provider.fetch) continue
      const found = await provider.fetch(String(message.provider_message_id))
      const status = fromProviderStatus('twilio', found.status)
      if (!status) throw new Error(`the provider reports status "${found.status.slice(0, 32)}", which an outbound message does not have`)
      // Unchanged at the provider: nothing to record (no event per tick for a message that is simply slow).
      if (status === message.status) continue
      const reason = found.errorCode && found.errorMessage ? `${found.errorCode}: ${found.errorMessage}` : (found.errorCode ?? found.errorMessage)
      const applied = await inWriteTransaction(database, (trx) =>
        applyStatus(trx, {
          messageId: String(message.id),
          status,
          providerStatus: found.status,
          reason,
          errorCode: found.errorCode,
          errorMessage: found.errorMessage,
          source: 'reconcile',
          payload: found,
          at: options.at,
        }),
      )
      if (applied.outcome === 'applied') {
        result.reconciled++
        result.eventIds.push(applied.eventId)
      }
    } catch (error) {
      result.errors++
      options.logger?.warn(`Reconciling message ${message.id} failed: ${(error as Error).message}`)
    }
  }
  return result
}

async function providerFor(database: Database, tenantId: string, channel: Channel, options: ReconcileOptions): Promise<MessageProvider> {
  const row = await getChannelSettings(database.db, tenantId, channel)
  if (!row) throw new Error(`tenant ${tenantId} has no ${channel} settings`)
  return providerFromSettings(row, {keyring: options.keyring, get: options.get, logger: options.logger})
}
