import type {Kysely} from 'kysely'
import {openCredentials, type TwilioCredentials} from '../../channel-settings/credentials.js'
import type {ChannelSettingsRow} from '../../channel-settings/settings-repository.js'
import type {Keyring} from '../../crypto/encryption-key.js'

/* eslint-disable @typescript-eslint/no-explicit-any */

/** A tenant's Twilio account as a callback is checked against it. Holds a secret: never log it. */
export interface TenantTwilioAccount {
  tenantId: string
  accountSid: string
  authToken: string
}

const CACHE_LIMIT = 1000

/**
 * Finds tenants' Twilio auth tokens in the unified settings, decrypting each
 * credentials envelope once per process: the cache is keyed by the envelope
 * text, so re-seeded or rotated credentials are simply a new key and the
 * stale entry ages out. Tokens stay in memory only.
 */
export class TwilioAuthTokens {
  private readonly opened = new Map<string, TwilioCredentials | null>()

  constructor(private readonly keyring: Keyring) {}

  /** The account of the tenant's Twilio row for this channel, or undefined when it has none. */
  async forTenantChannel(db: Kysely<any>, tenantId: string, channel: string): Promise<TenantTwilioAccount | undefined> {
    const row = (await db
      .selectFrom('tenant_channel_settings')
      .select(['id', 'tenant_id', 'channel', 'credentials_encrypted'])
      .where('tenant_id', '=', tenantId)
      .where('channel', '=', channel)
      .where('provider', '=', 'twilio')
      .executeTakeFirst()) as Pick<ChannelSettingsRow, 'id' | 'tenant_id' | 'channel' | 'credentials_encrypted'> | undefined
    const credentials = row ? this.open(row) : null
    return credentials ? {tenantId, accountSid: credentials.accountSid, authToken: credentials.authToken} : undefined
  }

  /** Every tenant whose Twilio credentials are for this account SID (usually one), by tenant id. */
  async forAccount(db: Kysely<any>, accountSid: string): Promise<TenantTwilioAccount[]> {
    const rows = (await db
      .selectFrom('tenant_channel_settings')
      .select(['id', 'tenant_id', 'channel', 'credentials_encrypted'])
      .where('provider', '=', 'twilio')
      .where('credentials_encrypted', 'is not', null)
      .orderBy('tenant_id')
      .orderBy('id')
      .execute()) as Pick<ChannelSettingsRow, 'id' | 'tenant_id' | 'channel' | 'credentials_encrypted'>[]
    const found = new Map<string, TenantTwilioAccount>()
    for (const row of rows) {
      const credentials = this.open(row)
      if (credentials?.accountSid !== accountSid || found.has(row.tenant_id)) continue
      found.set(row.tenant_id, {tenantId: row.tenant_id, accountSid, authToken: credentials.authToken})
    }
    return [...found.values()]
  }

  private open(row: Pick<ChannelSettingsRow, 'id' | 'tenant_id' | 'channel' | 'credentials_encrypted'>): TwilioCredentials | null {
    if (row.credentials_encrypted === null) return null
    const key = `${row.tenant_id}\u0000${row.channel}\u0000${row.credentials_encrypted}`
    if (this.opened.has(key)) return this.opened.get(key)!
    let credentials: TwilioCredentials | null
    try {
      credentials = openCredentials<TwilioCredentials>(this.keyring, row)
    } catch {
      // A row that does not decrypt cannot vouch for a callback; `engage keys check` reports it.
      credentials = null
    }
    if (this.opened.size >= CACHE_LIMIT) this.opened.delete(this.opened.keys().next().value!)
    this.opened.set(key, credentials)
    return credentials
  }
}
