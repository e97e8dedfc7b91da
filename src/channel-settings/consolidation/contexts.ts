import type {FieldContext} from '../../crypto/envelope.js'

/** Associated data of a settings row's credentials (SCHEMA.md). */
export function settingsCredentialsContext(tenantId: string, channel: string): FieldContext {
  return {tenantId, channel, field: 'credentials'}
}

export function settingsWebhookContext(tenantId: string, channel: string): FieldContext {
  return {tenantId, channel, field: 'webhook_secret'}
}

/** An archived row's values are bound to its legacy id too, so they cannot be swapped between archive rows. */
export function archiveCredentialsContext(id: number, tenantId: string, channel: string): FieldContext {
  return {tenantId, channel, field: `archive:${id}:credentials`}
}

export function archiveWebhookContext(id: number, tenantId: string, channel: string): FieldContext {
  return {tenantId, channel, field: `archive:${id}:webhook_secret`}
}
