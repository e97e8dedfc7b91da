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

/** The columns of a tenant_channel_settings row that vouch for a callback. */
export type SettingsCredentials = Pick<ChannelSettingsRow, 'id' | 'tenant_id' | 'channel' | 'credentials_encrypted'>

/**
 * Finds tenants' Twilio auth tokens in the unified settings, decrypting each
 * credentials envelope once per process: the cache is keyed by the envelope
 * text, which callers read from the row every time, so re-seeded, rotated or
 * removed credentials take effect on the next callback and the stale entry
 * ages out. Tokens stay in memory only.
 */
export class TwilioAuthTokens {
  private readonly opened = new Map<string, TwilioCredentials | null>()

  constructor(private readonly keyring: Keyring) {}

  /** The account a tenant's Twilio settings row holds, or undefined when it holds none (or it does not decrypt). */
  accountOf(row: SettingsCredentials): TenantTwilioAccount | undefined {
    const credentials = this.open(row)
    return credentials ? {tenantId: row.tenant_id, accountSid: credentials.accountSid, authToken: credentials.authToken} : undefined
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
      .execute()) as SettingsCredentials[]
    const found = new Map<string, TenantTwilioAccount>()
    for (const row of rows) {
      const credentials = this.open(row)
      if (credentials?.accountSid !== accountSid || found.has(row.tenant_id)) continue
      found.set(row.tenant_id, {tenantId: row.tenant_id, accountSid, authToken: credentials.authToken})
    }
    return [...found.values()]
  }

  private open(row: SettingsCredentials): TwilioCredentials | null {
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
