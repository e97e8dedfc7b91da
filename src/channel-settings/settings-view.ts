import type {Kysely} from 'kysely'
import {envelopeKeyId} from '../crypto/envelope.js'
import {inWriteTransaction, type Database} from '../db/database.js'
import {NotFoundError} from '../errors/engage-error.js'
import {requireTenant} from '../tenants/tenant-repository.js'
import {redact} from './redact.js'
import {
  assertUnifiedSchema,
  getChannelSettings,
  listChannelSettings,
  providerConfigOf,
  setChannelEnabled,
  type Channel,
  type ChannelSettingsRow,
} from './settings-repository.js'

/**
 * A settings row as the operator may see it: identifiers redacted
 * (`AC12…89ab`), encrypted values reduced to "stored, under key <id>".
 * Nothing secret is in here, so every field is safe for stdout and JSON.
 */
export interface SettingsView {
  id: number
  tenant: {id: string; slug: string}
  channel: Channel
  provider: string
  enabled: boolean
  verified: boolean
  verifiedAt: string | null
  verificationError: string | null
  sender: string | null
  accountSid?: string | null
  messagingServiceSid?: string | null
  region?: string | null
  configurationSet?: string | null
  accessKeyId?: string | null
  webhookUrl: string | null
  credentials: EncryptedValueView
  webhookSecret: EncryptedValueView
  createdAt: string
  updatedAt: string
}

export interface EncryptedValueView {
  stored: boolean
  /** Id of the key the envelope was written with (not secret); 'malformed' when it is not an ev1 envelope. */
  keyId: string | null
}

function encryptedView(value: string | null): EncryptedValueView {
  if (value === null) return {stored: false, keyId: null}
  try {
    return {stored: true, keyId: envelopeKeyId(value)}
  } catch {
    return {stored: true, keyId: 'malformed'}
  }
}

const text = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null)

/** The safe view of one row. */
export function viewSettings(row: ChannelSettingsRow, tenant: {id: string; slug: string}): SettingsView {
  const config = providerConfigOf(row)
  const view: SettingsView = {
    id: Number(row.id),
    tenant,
    channel: row.channel,
    provider: row.provider,
    enabled: Number(row.is_enabled) === 1,
    verified: Number(row.is_verified) === 1,
    verifiedAt: row.verified_at,
    verificationError: row.verification_error,
    sender: row.sender,
    webhookUrl: row.webhook_url,
    credentials: encryptedView(row.credentials_encrypted),
    webhookSecret: encryptedView(row.webhook_secret_encrypted),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
  if (row.provider === 'twilio') {
    view.accountSid = redact(text(config.accountSid))
    view.messagingServiceSid = row.messaging_service_sid
  } else {
    view.region = text(config.region)
    view.configurationSet = text(config.configurationSet)
    view.accessKeyId = redact(text(config.accessKeyId))
  }
  return view
}

/** Every tenant's settings, or one tenant's (NotFoundError for an unknown tenant). */
export async function listSettings(database: Database, filter: {tenant?: string} = {}): Promise<SettingsView[]> {
  await assertUnifiedSchema(database.db)
  const tenant = filter.tenant === undefined ? undefined : await requireTenant(database.db, filter.tenant)
  const rows = await listChannelSettings(database.db, {tenantId: tenant?.id})
  return rows.map((row) => viewSettings(row, {id: row.tenant_id, slug: row.tenant_slug}))
}

/** The NotFoundError for a tenant without settings for a channel, with the seed command that adds them. */
export function settingsNotFound(tenantSlug: string, channel: Channel): NotFoundError {
  return new NotFoundError(`Tenant ${tenantSlug} has no ${channel} settings.`, {
    code: 'SETTINGS_NOT_FOUND',
    suggestions: [
      channel === 'email'
        ? `Run \`engage seed ses --tenant ${tenantSlug}\`.`
        : `Run \`engage seed twilio --tenant ${tenantSlug} --channels ${channel}\`.`,
    ],
    details: {tenant: tenantSlug, channel},
  })
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function requireSettings(db: Kysely<any>, tenantRef: string, channel: Channel) {
  const tenant = await requireTenant(db, tenantRef)
  const row = await getChannelSettings(db, tenant.id, channel)
  if (!row) throw settingsNotFound(tenant.slug, channel)
  return {tenant, row}
}

/** One tenant's settings for one channel, or NotFoundError. */
export async function showSettings(database: Database, tenantRef: string, channel: Channel): Promise<SettingsView> {
  await assertUnifiedSchema(database.db)
  const {tenant, row} = await requireSettings(database.db, tenantRef, channel)
  return viewSettings(row, {id: tenant.id, slug: tenant.slug})
}

export interface EnableResult {
  settings: SettingsView
  /** False when the channel already was in the requested state ("already enabled" is success). */
  changed: boolean
  /** Reasons an enabled channel may still not send, for the operator to read. */
  warnings: string[]
}

/** Enables or disables a tenant's channel; the row must exist. */
export async function setSettingsEnabled(database: Database, tenantRef: string, channel: Channel, enabled: boolean): Promise<EnableResult> {
  await assertUnifiedSchema(database.db)
  return inWriteTransaction(database, async (trx) => {
    const {tenant, row} = await requireSettings(trx, tenantRef, channel)
    const changed = await setChannelEnabled(trx, row, enabled)
    const updated = (await getChannelSettings(trx, tenant.id, channel))!
    const settings = viewSettings(updated, {id: tenant.id, slug: tenant.slug})
    const warnings: string[] = []
    if (enabled && !settings.verified) warnings.push('The settings are not verified; sends may fail.')
    if (enabled && settings.provider === 'twilio' && !settings.credentials.stored) warnings.push('No Twilio credentials are stored for this channel.')
    return {settings, changed, warnings}
  })
}
