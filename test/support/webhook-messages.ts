/**
 * Fixtures for the message store, webhook and status-update suites: a fresh
 * database migrated in-process, tenants and messages inserted the way the
 * backend writes them.
 */
import {randomBytes} from 'node:crypto'
import {sealCredentials} from '../../src/channel-settings/credentials.js'
import {upsertChannelSettings, type ChannelSettingsRow} from '../../src/channel-settings/settings-repository.js'
import {silentLogger} from '../../src/cli/logger.js'
import {Keyring} from '../../src/crypto/encryption-key.js'
import {Settings} from '../../src/config/env.js'
import type {Database, Dialect} from '../../src/db/database.js'
import {createMigrator} from '../../src/migrate/migrator.js'
import {createTestDatabase, type TestDatabase} from './databases.js'

export interface MigratedStore {
  testDatabase: TestDatabase
  database: Database
  encryptionKey: string
  dispose(): Promise<void>
}

/** A new database of the dialect with every migration applied. */
export async function migratedStore(dialect: Dialect, options: {encryptionKey?: string} = {}): Promise<MigratedStore> {
  const testDatabase = await createTestDatabase(dialect)
  const database = await testDatabase.open({create: true})
  const encryptionKey = options.encryptionKey ?? randomBytes(32).toString('hex')
  const run = await createMigrator({database, settings: new Settings({ENCRYPTION_KEY: encryptionKey}, {}), logger: silentLogger}).up()
  if (run.error) {
    await testDatabase.dispose()
    throw run.error
  }
  return {testDatabase, database, encryptionKey, dispose: () => testDatabase.dispose()}
}

export const FIXTURE_TIME = '2026-01-01T00:00:00.000Z'

export async function insertTenant(database: Database, id: string): Promise<void> {
  await database.db.insertInto('tenants').values({id, slug: id.replace(/_/g, '-'), name: `Tenant ${id}`, created_at: FIXTURE_TIME}).execute()
}

export interface MessageFixture {
  id: string
  tenantId: string
  channel?: 'sms' | 'whatsapp' | 'email'
  status?: string
  providerMessageId?: string | null
  updatedAt?: string
  to?: string
}

export async function insertMessages(database: Database, messages: readonly MessageFixture[]): Promise<void> {
  if (messages.length === 0) return
  await database.db
    .insertInto('messages')
    .values(
      messages.map((m) => ({
        id: m.id,
        tenant_id: m.tenantId,
        channel: m.channel ?? 'sms',
        provider: m.channel === 'email' ? 'ses' : 'twilio',
        to_address: m.to ?? '+15005550006',
        provider_message_id: m.providerMessageId ?? null,
        status: m.status ?? 'queued',
        attempts: 0,
        created_at: FIXTURE_TIME,
        updated_at: m.updatedAt ?? FIXTURE_TIME,
      })),
    )
    .execute()
}

/** Every status event of a message, oldest first, with `applied` as a number in both dialects. */
export async function eventsOf(database: Database, messageId: string) {
  const rows = await database.db
    .selectFrom('message_status_events')
    .select(['id', 'status', 'applied', 'source', 'status_reason', 'provider_status'])
    .where('message_id', '=', messageId)
    .orderBy('id')
    .execute()
  return rows.map((row) => ({...row, id: Number(row.id), applied: Number(row.applied)}))
}

export async function messageRow(database: Database, id: string) {
  return database.db
    .selectFrom('messages')
    .select(['status', 'status_reason', 'error_code', 'error_message', 'provider_message_id', 'sent_at', 'updated_at'])
    .where('id', '=', id)
    .executeTakeFirstOrThrow()
}

/** Row counts of the tables a status write touches: equal before and after means nothing was written. */
export async function statusWriteCounts(database: Database) {
  const count = async (table: string) =>
    Number((await database.db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n)
  return {
    events: await count('message_status_events'),
    pending: await count('pending_status_callbacks'),
    messages: JSON.stringify(await database.db.selectFrom('messages').select(['id', 'status', 'updated_at']).orderBy('id').execute()),
  }
}

/** Stores a tenant's Twilio channel settings (credentials sealed with the keyring), as `engage seed twilio` would. */
export async function seedTwilioChannel(
  database: Database,
  keyring: Keyring,
  options: {tenantId: string; channel: 'sms' | 'whatsapp'; accountSid: string; authToken: string; serviceSid: string; webhookUrl: string; providerConfig?: Record<string, unknown>},
): Promise<ChannelSettingsRow> {
  const {row} = await upsertChannelSettings(database.db, {
    tenantId: options.tenantId,
    channel: options.channel,
    provider: 'twilio',
    sender: options.channel === 'whatsapp' ? 'whatsapp:+15005550008' : '+15005550006',
    providerConfig: {accountSid: options.accountSid, ...options.providerConfig},
    credentialsEncrypted: sealCredentials(keyring, options.tenantId, options.channel, {accountSid: options.accountSid, authToken: options.authToken}),
    messagingServiceSid: options.serviceSid,
    webhookUrl: options.webhookUrl,
    isEnabled: true,
    isVerified: true,
    verifiedAt: FIXTURE_TIME,
    verificationError: null,
  })
  return row
}

export function keyringOf(encryptionKey: string): Keyring {
  return Keyring.fromSettings((name) => (name === 'ENCRYPTION_KEY' ? encryptionKey : undefined))
}
