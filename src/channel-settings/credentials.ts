import type {Keyring} from '../crypto/encryption-key.js'
import {decryptJson, encryptField, type FieldContext} from '../crypto/envelope.js'
import {EncryptionError} from '../errors/engage-error.js'
import type {Channel, ChannelSettingsRow} from './settings-repository.js'

/** Plaintext of a Twilio row's credentials_encrypted (SCHEMA.md). */
export interface TwilioCredentials {
  accountSid: string
  authToken: string
}

/** Plaintext of an SES row's credentials_encrypted (SCHEMA.md). */
export interface SesCredentials {
  accessKeyId: string
  secretAccessKey: string
  region: string
}

export function credentialsContext(tenantId: string, channel: Channel | string): FieldContext {
  return {tenantId, channel, field: 'credentials'}
}

export function webhookSecretContext(tenantId: string, channel: Channel | string): FieldContext {
  return {tenantId, channel, field: 'webhook_secret'}
}

/** Encrypts credentials with the current key, bound to their row's tenant and channel. */
export function sealCredentials(keyring: Keyring, tenantId: string, channel: Channel, credentials: TwilioCredentials | SesCredentials): string {
  return encryptField(keyring.current, JSON.stringify(credentials), credentialsContext(tenantId, channel))
}

/**
 * Decrypts a row's credentials, or returns null when the row stores none.
 * Failures are EncryptionErrors naming the row, never its contents.
 */
export function openCredentials<T extends TwilioCredentials | SesCredentials>(
  keyring: Keyring,
  row: Pick<ChannelSettingsRow, 'id' | 'tenant_id' | 'channel' | 'credentials_encrypted'>,
): T | null {
  if (row.credentials_encrypted === null) return null
  try {
    return decryptJson<T>(keyring, row.credentials_encrypted, credentialsContext(row.tenant_id, row.channel))
  } catch (error) {
    if (error instanceof EncryptionError) {
      throw new EncryptionError(`The credentials of tenant_channel_settings row ${row.id} do not decrypt: ${error.message}`, {
        code: error.code,
        cause: error,
        suggestions: error.suggestions,
        details: {table: 'tenant_channel_settings', id: row.id},
      })
    }
    throw new EncryptionError(`The credentials of tenant_channel_settings row ${row.id} are not valid JSON.`, {
      code: 'CREDENTIALS_MALFORMED',
      details: {table: 'tenant_channel_settings', id: row.id},
    })
  }
}
