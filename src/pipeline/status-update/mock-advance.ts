import type {Kysely} from 'kysely'
import {providerConfigOf} from '../../channel-settings/settings-repository.js'
import {inWriteTransaction, type Database} from '../../db/database.js'
import {applyStatus, type MessageStatus} from '../../messages/index.js'

/* eslint-disable @typescript-eslint/no-explicit-any */

/** The next mock status of a message, or undefined when the mock lifecycle is over for its channel. */
export function nextMockStatus(channel: string, status: string): MessageStatus | undefined {
  switch (status) {
    case 'queued':
    case 'sending':
      return 'sent'
    case 'sent':
      return 'delivered'
    case 'delivered':
      return channel === 'whatsapp' ? 'read' : undefined
    default:
      return undefined
  }
}

/** A tenant channel whose provider is a mock: `"mock": true` in its provider_config_json. */
export interface MockChannel {
  tenantId: string
  channel: string
}

/** Every tenant channel marked as a mock provider. */
export async function mockChannels(db: Kysely<any>): Promise<MockChannel[]> {
  const rows = await db.selectFrom('tenant_channel_settings').select(['tenant_id', 'channel', 'provider_config_json']).orderBy('id').execute()
  return rows
    .filter((row) => providerConfigOf(row as {provider_config_json: string}).mock === true)
    .map((row) => ({tenantId: String(row.tenant_id), channel: String(row.channel)}))
}

/**
 * One mock tick: each message of a mock channel that is still moving goes
 * one step along queued → sent → delivered (→ read on WhatsApp), through
 * applyStatus (source `mock`), oldest first, at most `limit` messages. Each
 * step is its own short write transaction so a tick never holds the write
 * lock for long. Returns the applied event ids.
 */
export async function advanceMockMessages(database: Database, channels: readonly MockChannel[], options: {at: string; limit: number}): Promise<number[]> {
  const eventIds: number[] = []
  let budget = options.limit
  for (const {tenantId, channel} of channels) {
    if (budget <= 0) break
    const moving = channel === 'whatsapp' ? ['queued', 'sending', 'sent', 'delivered'] : ['queued', 'sending', 'sent']
    const messages = await database.db
      .selectFrom('messages')
      .select(['id', 'channel', 'status'])
      .where('tenant_id', '=', tenantId)
      .where('channel', '=', channel)
      .where('status', 'in', moving)
      .orderBy('updated_at')
      .orderBy('id')
      .limit(budget)
      .execute()
    for (const message of messages) {
      const next = nextMockStatus(String(message.channel), String(message.status))
      if (!next) continue
      budget--
      const result = await inWriteTransaction(database, (trx) => applyStatus(trx, {messageId: String(message.id), status: next, providerStatus: next, source: 'mock', at: options.at}))
      if (result.outcome === 'applied') eventIds.push(result.eventId)
    }
  }
  return eventIds
}
