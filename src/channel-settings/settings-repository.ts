import type {Kysely} from 'kysely'
import {DatabaseError} from '../errors/engage-error.js'

export const CHANNELS = ['sms', 'whatsapp', 'email'] as const
export type Channel = (typeof CHANNELS)[number]
export type ProviderName = 'twilio' | 'ses'

/** The provider each channel is served by (the legacy CHECK constraints allow only these pairs in practice). */
export const PROVIDER_OF: Record<Channel, ProviderName> = {sms: 'twilio', whatsapp: 'twilio', email: 'ses'}

/** One row of the unified `tenant_channel_settings` (SCHEMA.md). Flags are 0/1 integers in both dialects. */
export interface ChannelSettingsRow {
  id: number
  tenant_id: string
  channel: Channel
  provider: ProviderName
  is_enabled: number
  sender: string | null
  settings_json: string
  created_at: string
  updated_at: string
  provider_config_json: string
  credentials_encrypted: string | null
  messaging_service_sid: string | null
  webhook_url: string | null
  webhook_secret_encrypted: string | null
  is_verified: number
  verified_at: string | null
  verification_error: string | null
}

/** A settings row with its tenant's slug, as `settings list` shows it. */
export interface ChannelSettingsWithTenant extends ChannelSettingsRow {
  tenant_slug: string
}

/**
 * What a seed writes. `webhookUrl`, `webhookSecretEncrypted` and `isEnabled`
 * left undefined keep the stored value on an update (new rows: none, none,
 * enabled).
 */
export interface ChannelSettingsWrite {
  tenantId: string
  channel: Channel
  provider: ProviderName
  sender: string | null
  providerConfig: Record<string, unknown>
  credentialsEncrypted: string | null
  messagingServiceSid: string | null
  /** undefined keeps the stored URL (new rows: none). */
  webhookUrl?: string | null
  webhookSecretEncrypted?: string | null
  isEnabled?: boolean
  isVerified: boolean
  verifiedAt: string | null
  verificationError: string | null
  now?: string
}

const UNIFIED_COLUMNS = [
  'provider_config_json',
  'credentials_encrypted',
  'messaging_service_sid',
  'webhook_url',
  'webhook_secret_encrypted',
  'is_verified',
  'verified_at',
  'verification_error',
]

/**
 * Refuses a database that has not been migrated to the unified schema, with
 * the command that fixes it, instead of failing later on a missing column.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function assertUnifiedSchema(db: Kysely<any>): Promise<void> {
  const tables = await db.introspection.getTables()
  const settings = tables.find((table) => table.name === 'tenant_channel_settings')
  const present = new Set(settings?.columns.map((column) => column.name) ?? [])
  const missing = UNIFIED_COLUMNS.filter((column) => !present.has(column))
  if (!settings || missing.length > 0) {
    throw new DatabaseError('The database does not have the unified tenant_channel_settings table yet.', {
      code: 'SCHEMA_NOT_MIGRATED',
      suggestions: ['Run `engage migrate up` against this database first.'],
      details: {missingColumns: settings ? missing : ['tenant_channel_settings']},
    })
  }
}

export async function getChannelSettings(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  db: Kysely<any>,
  tenantId: string,
  channel: Channel,
): Promise<ChannelSettingsRow | undefined> {
  const row = await db
    .selectFrom('tenant_channel_settings')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('channel', '=', channel)
    .executeTakeFirst()
  return row as ChannelSettingsRow | undefined
}

/** Every settings row, or one tenant's, ordered by tenant slug then channel. */
export async function listChannelSettings(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  db: Kysely<any>,
  filter: {tenantId?: string} = {},
): Promise<ChannelSettingsWithTenant[]> {
  let query = db
    .selectFrom('tenant_channel_settings as s')
    .innerJoin('tenants as t', 't.id', 's.tenant_id')
    .selectAll('s')
    .select('t.slug as tenant_slug')
  if (filter.tenantId !== undefined) query = query.where('s.tenant_id', '=', filter.tenantId)
  const rows = await query.orderBy('t.slug').orderBy('s.channel').execute()
  return rows as ChannelSettingsWithTenant[]
}

/**
 * Inserts or updates the one row of (tenant, channel). Run it inside a write
 * transaction: the select and the write then see the same state.
 */
export async function upsertChannelSettings(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  db: Kysely<any>,
  write: ChannelSettingsWrite,
): Promise<{row: ChannelSettingsRow; action: 'created' | 'updated'}> {
  const now = write.now ?? new Date().toISOString()
  const values = {
    provider: write.provider,
    sender: write.sender,
    provider_config_json: JSON.stringify(write.providerConfig),
    credentials_encrypted: write.credentialsEncrypted,
    messaging_service_sid: write.messagingServiceSid,
    is_verified: write.isVerified ? 1 : 0,
    verified_at: write.verifiedAt,
    verification_error: write.verificationError,
    updated_at: now,
    ...(write.webhookUrl === undefined ? {} : {webhook_url: write.webhookUrl}),
    ...(write.webhookSecretEncrypted === undefined ? {} : {webhook_secret_encrypted: write.webhookSecretEncrypted}),
    ...(write.isEnabled === undefined ? {} : {is_enabled: write.isEnabled ? 1 : 0}),
  }
  const existing = await getChannelSettings(db, write.tenantId, write.channel)
  if (existing) {
    await db.updateTable('tenant_channel_settings').set(values).where('id', '=', existing.id).execute()
    return {row: (await getChannelSettings(db, write.tenantId, write.channel))!, action: 'updated'}
  }
  await db
    .insertInto('tenant_channel_settings')
    .values({
      is_enabled: 1,
      settings_json: '{}',
      ...values,
      tenant_id: write.tenantId,
      channel: write.channel,
      created_at: now,
    })
    .execute()
  return {row: (await getChannelSettings(db, write.tenantId, write.channel))!, action: 'created'}
}

/** Sets is_enabled; returns false when it already had that value (nothing written). */
export async function setChannelEnabled(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  db: Kysely<any>,
  row: ChannelSettingsRow,
  enabled: boolean,
  now: string = new Date().toISOString(),
): Promise<boolean> {
  if ((row.is_enabled === 1) === enabled) return false
  await db
    .updateTable('tenant_channel_settings')
    .set({is_enabled: enabled ? 1 : 0, updated_at: now})
    .where('id', '=', row.id)
    .execute()
  return true
}

/** provider_config_json parsed; a damaged value reads as an empty object rather than crashing a listing. */
export function providerConfigOf(row: Pick<ChannelSettingsRow, 'provider_config_json'>): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(row.provider_config_json)
    return parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {}
  } catch {
    return {}
  }
}
