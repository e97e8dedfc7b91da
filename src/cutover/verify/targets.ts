import type {Kysely} from 'kysely'
import {openCredentials, type SesCredentials, type TwilioCredentials} from '../../channel-settings/credentials.js'
import type {ChannelSettingsRow} from '../../channel-settings/settings-repository.js'
import type {Keyring} from '../../crypto/encryption-key.js'
import {EncryptionError, UsageError} from '../../errors/engage-error.js'
import type {MessagingChannel} from '../../messaging/recipients.js'
import {requireTenant} from '../../tenants/tenant-repository.js'

/* eslint-disable @typescript-eslint/no-explicit-any */

/** A tenant channel a smoke campaign may go to: enabled, verified, credentials that open. */
export interface VerifyTarget {
  tenantId: string
  tenantSlug: string
  channel: MessagingChannel
}

/**
 * The enabled and verified channels of one tenant (slug or id) or of all
 * tenants, optionally only `channels`. Refuses, before anything is written:
 * a tenant that does not exist, a requested channel that is not enabled and
 * verified, nothing to verify at all, or stored credentials the keyring
 * cannot open (the sender would fail every message).
 */
export async function findVerifyTargets(
  db: Kysely<any>,
  keyring: Keyring,
  filter: {tenant?: string; channels?: string[]},
): Promise<VerifyTarget[]> {
  const tenant = filter.tenant ? await requireTenant(db, filter.tenant) : undefined
  let query = db
    .selectFrom('tenant_channel_settings as s')
    .innerJoin('tenants as t', 't.id', 's.tenant_id')
    .selectAll('s')
    .select('t.slug as tenant_slug')
    .where('s.is_enabled', '=', 1)
    .where('s.is_verified', '=', 1)
  if (tenant) query = query.where('s.tenant_id', '=', tenant.id)
  const rows = (await query.orderBy('t.slug').orderBy('s.channel').execute()) as Array<ChannelSettingsRow & {tenant_slug: string}>
  const wanted = filter.channels?.length ? new Set(filter.channels) : undefined
  const selected = rows.filter((row) => !wanted || wanted.has(row.channel))
  if (wanted) {
    const missing = [...wanted].filter((channel) => !selected.some((row) => row.channel === channel))
    if (missing.length > 0) {
      throw new UsageError(`${tenant ? `Tenant ${tenant.slug} has` : 'No tenant has'} no enabled and verified ${missing.join(', ')} channel to verify.`, {
        code: 'VERIFY_NO_VERIFIED_CHANNEL',
        suggestions: ['Seed and verify it first (`engage seed twilio …`), or enable it (`engage settings enable …`); `engage settings list` shows what is there.'],
      })
    }
  }
  if (selected.length === 0) {
    const scope = tenant ? `Tenant ${tenant.slug} has no` : 'No tenant has an'
    throw new UsageError(`${scope} enabled and verified channel${wanted ? ` among ${[...wanted].join(', ')}` : ''}: there is nothing a smoke campaign could go through.`, {
      code: 'VERIFY_NO_VERIFIED_CHANNEL',
      suggestions: ['Seed a tenant with verified credentials first: `engage seed twilio --tenant … --create-tenant --name …` (it verifies with Twilio).'],
    })
  }
  for (const row of selected) {
    try {
      openCredentials<TwilioCredentials | SesCredentials>(keyring, row)
    } catch (error) {
      throw new EncryptionError(`The ${row.channel} credentials of tenant ${row.tenant_slug} do not open with the configured ENCRYPTION_KEY.`, {
        code: 'VERIFY_CREDENTIALS_UNREADABLE',
        cause: error,
        suggestions: ['Run `engage keys check` to see which values do not decrypt, then fix ENCRYPTION_KEY or re-seed the tenant.'],
      })
    }
  }
  return selected.map((row) => ({tenantId: row.tenant_id, tenantSlug: row.tenant_slug, channel: row.channel as MessagingChannel}))
}
