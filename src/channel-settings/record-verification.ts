import type {Keyring} from '../crypto/encryption-key.js'
import {inWriteTransaction, type Database} from '../db/database.js'
import {findTenant} from '../tenants/tenant-repository.js'
import {openCredentials, type TwilioCredentials} from './credentials.js'
import {getChannelSettings, type ChannelSettingsRow} from './settings-repository.js'

/** What a failed `seed twilio` verification checked, for one channel. */
export interface VerifiedTwilioChannel {
  channel: 'sms' | 'whatsapp'
  sender: string
}

export interface FailedVerification {
  tenant: string
  accountSid: string
  authToken: string
  messagingServiceSid: string
  channels: VerifiedTwilioChannel[]
  /** The recordable form of the failure: "20003: Authenticate", "unreachable: ECONNREFUSED". */
  verificationError: string
}

/**
 * Records a failed verification on the rows it is the truth about: those that
 * already store exactly what was verified (same account, auth token, messaging
 * service and sender). They become unverified, with `verification_error` set
 * and `verified_at` cleared, in one write transaction. Rows holding anything
 * else are left alone, so a mistyped token never marks good settings bad and
 * nothing of a failed input is ever stored. Returns the channels marked.
 */
export async function recordFailedVerification(database: Database, keyring: Keyring, failure: FailedVerification): Promise<Array<'sms' | 'whatsapp'>> {
  return inWriteTransaction(database, async (trx) => {
    const tenant = await findTenant(trx, failure.tenant)
    if (!tenant) return []
    const marked: Array<'sms' | 'whatsapp'> = []
    for (const {channel, sender} of failure.channels) {
      const row = await getChannelSettings(trx, tenant.id, channel)
      if (!row || !storesExactly(row, keyring, failure, sender)) continue
      await trx
        .updateTable('tenant_channel_settings')
        .set({is_verified: 0, verified_at: null, verification_error: failure.verificationError, updated_at: new Date().toISOString()})
        .where('id', '=', row.id)
        .execute()
      marked.push(channel)
    }
    return marked
  })
}

function storesExactly(row: ChannelSettingsRow, keyring: Keyring, failure: FailedVerification, sender: string): boolean {
  if (row.provider !== 'twilio' || row.messaging_service_sid !== failure.messagingServiceSid || row.sender !== sender) return false
  let stored: TwilioCredentials | null
  try {
    stored = openCredentials<TwilioCredentials>(keyring, row)
  } catch {
    // Credentials this keyring cannot read are not the ones just verified.
    return false
  }
  return stored !== null && stored.accountSid === failure.accountSid && stored.authToken === failure.authToken
}
