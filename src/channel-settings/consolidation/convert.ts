import {encryptField} from '../../crypto/envelope.js'
import type {EncryptionKey} from '../../crypto/encryption-key.js'
import {
  archiveCredentialsContext,
  archiveWebhookContext,
  settingsCredentialsContext,
  settingsWebhookContext,
} from './contexts.js'
import type {ArchiveRow, RowDecision, SettingsCredentials} from './types.js'

/** The non-secret part of the credentials, kept readable for commands that only show configuration. */
export function providerConfig(provider: string, credentials: Record<string, string>): Record<string, string> {
  if (provider === 'twilio') return {accountSid: credentials.accountSid!}
  const config: Record<string, string> = {region: credentials.region!}
  if (credentials.accessKeyId) config.accessKeyId = credentials.accessKeyId
  return config
}

/** A settings row 0002 writes: into an existing row (settingsId) or a new disabled one. */
export interface SettingsWrite extends SettingsCredentials {
  legacyId: number
  settingsId?: number
  tenant_id: string
  channel: string
  provider: string
  created_at: string
  updated_at: string
}

export interface ConvertedRow {
  archive: ArchiveRow
  settings?: SettingsWrite
}

/**
 * Re-encrypts one legacy row into the ev1 format. Merged rows put the
 * credentials and webhook secret in the settings row; every other reason keeps
 * them, still encrypted, in the archive row. An empty webhook secret is stored
 * as NULL in settings (nothing can sign with it) and remembered in the archive
 * so `down` restores '' rather than NULL.
 */
export function convertRow(key: EncryptionKey, decision: RowDecision, archivedAt: string): ConvertedRow {
  const {row} = decision.decrypted
  const secret = row.webhook_secret
  const base: ArchiveRow = {
    id: row.id,
    tenant_id: row.tenant_id,
    channel: row.channel,
    provider: row.provider,
    credentials_encrypted: null,
    messaging_service_sid: row.messaging_service_sid,
    webhook_url: row.webhook_url,
    webhook_secret_encrypted: null,
    is_verified: row.is_verified,
    verification_error: row.verification_error,
    created_at: row.created_at,
    updated_at: row.updated_at,
    legacy_iv: null,
    legacy_ciphertext: null,
    reason: decision.reason,
    settings_id: decision.settingsId ?? null,
    settings_created: 0,
    archived_at: archivedAt,
  }
  const archiveSecret = (value: string) => encryptField(key, value, archiveWebhookContext(row.id, row.tenant_id, row.channel))
  if (!decision.decrypted.ok) {
    return {archive: {...base, legacy_ciphertext: row.credentials_encrypted, webhook_secret_encrypted: secret === null ? null : archiveSecret(secret)}}
  }
  const {plaintext, credentials, rebuildable} = decision.decrypted
  const legacy = rebuildable
    ? {legacy_iv: row.credentials_encrypted.slice(0, 32), legacy_ciphertext: null}
    : {legacy_iv: null, legacy_ciphertext: row.credentials_encrypted}
  if (decision.reason !== 'merged') {
    return {
      archive: {
        ...base,
        ...legacy,
        credentials_encrypted: encryptField(key, plaintext, archiveCredentialsContext(row.id, row.tenant_id, row.channel)),
        webhook_secret_encrypted: secret === null ? null : archiveSecret(secret),
      },
    }
  }
  return {
    archive: {
      ...base,
      ...legacy,
      webhook_secret_encrypted: secret === '' ? archiveSecret(secret) : null,
      settings_created: decision.settingsId === undefined ? 1 : 0,
    },
    settings: {
      legacyId: row.id,
      settingsId: decision.settingsId,
      tenant_id: row.tenant_id,
      channel: row.channel,
      provider: row.provider,
      created_at: row.created_at,
      updated_at: row.updated_at,
      provider_config_json: JSON.stringify(providerConfig(row.provider, credentials)),
      credentials_encrypted: encryptField(key, plaintext, settingsCredentialsContext(row.tenant_id, row.channel)),
      messaging_service_sid: row.messaging_service_sid,
      webhook_url: row.webhook_url,
      webhook_secret_encrypted:
        secret === null || secret === '' ? null : encryptField(key, secret, settingsWebhookContext(row.tenant_id, row.channel)),
      is_verified: row.is_verified,
      // v2 has no verification time; its last update is the best bound we have.
      verified_at: row.is_verified ? row.updated_at : null,
      verification_error: row.verification_error,
    },
  }
}
