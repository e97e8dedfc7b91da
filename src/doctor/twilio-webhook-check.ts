import {randomBytes} from 'node:crypto'
import type {Kysely} from 'kysely'
import {openCredentials, type TwilioCredentials} from '../channel-settings/credentials.js'
import type {ChannelSettingsRow} from '../channel-settings/settings-repository.js'
import {defaultTwilioWebhookUrl} from '../channel-settings/webhook-url.js'
import type {Keyring} from '../crypto/encryption-key.js'
import type {Database} from '../db/database.js'
import {ProviderError, UsageError} from '../errors/engage-error.js'
import {computeTwilioSignature} from '../webhooks/twilio-signature.js'
import {probe} from './http-probe.js'
import type {DoctorCheck} from './types.js'

/* eslint-disable @typescript-eslint/no-explicit-any */

/**
 * The Twilio webhook at WEBHOOK_BASE_URL + /webhooks/twilio, in two probes,
 * each a synthetic status callback for a message SID that exists nowhere:
 * 1. signed with a random token: it must answer 403. 400 or 404 mean the URL
 *    is not the webhook (or it parses differently), 5xx that it is broken;
 *    200 that it does not check signatures at all.
 * 2. signed with a real tenant's auth token (the first enabled Twilio row
 *    whose credentials open): it must answer 200, and, since the SID is
 *    unknown, keep the callback in pending_status_callbacks. Finding that row
 *    in this database proves the webhook writes where engage reads; the row
 *    is then deleted, so no kept callback is left behind (migration 0005's
 *    `down` refuses while one is). Status `sent` is used: harmless even if
 *    the row were ever applied. Skipped, and said so, without a keyring or a
 *    tenant with Twilio credentials.
 */
export async function checkTwilioWebhook(input: {get: (name: string) => string | undefined; database?: Database; keyring?: Keyring}): Promise<DoctorCheck> {
  const name = 'Twilio webhook answers and checks signatures'
  const url = defaultTwilioWebhookUrl(input.get('WEBHOOK_BASE_URL'))
  if (!url) return {name, ok: false, detail: 'WEBHOOK_BASE_URL is not set.', fix: 'Set WEBHOOK_BASE_URL to the public origin Twilio calls (the API Gateway URL; `engage dev` writes the local one).', failsAs: UsageError}
  const params = (accountSid: string) => ({
    AccountSid: accountSid,
    ApiVersion: '2010-04-01',
    MessageSid: `SM${randomBytes(16).toString('hex')}`,
    MessageStatus: 'sent',
    SmsSid: '',
    SmsStatus: 'sent',
    To: '+15005550000',
  })
  const post = (form: Record<string, string>, token: string) =>
    probe(url, {
      headers: {'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': computeTwilioSignature(token, url, form)},
      body: new URLSearchParams(form).toString(),
    })
  const forged = params(`AC${randomBytes(16).toString('hex')}`)
  forged.SmsSid = forged.MessageSid
  const bad = await post(forged, randomBytes(16).toString('hex'))
  if ('error' in bad) return {name, ok: false, detail: `${url} is unreachable (${bad.error}).`, fix: 'Start the webhook (`engage serve` or `engage dev` locally; deploy the stack in AWS) and check WEBHOOK_BASE_URL.', failsAs: ProviderError}
  if (bad.status !== 403) {
    const why = bad.status === 404 ? 'no webhook at this path' : bad.status === 400 ? 'it refused the callback as malformed' : bad.status < 300 ? 'it accepted a forged signature' : 'it failed'
    return {name, ok: false, detail: `${url} answered ${bad.status} to a callback with a bad signature (expected 403): ${why}.`, fix: 'Point WEBHOOK_BASE_URL at the Twilio webhook (the path is /webhooks/twilio); a 503 from engage serve means ENCRYPTION_KEY is not set there.', failsAs: ProviderError}
  }
  const account = input.database && input.keyring ? await firstTwilioAccount(input.database.db, input.keyring) : undefined
  if (!account) {
    return {name, ok: true, detail: `${url} refused a bad signature (403); the signed self-test was skipped: ${input.keyring ? 'no enabled tenant has Twilio credentials' : 'ENCRYPTION_KEY is not usable'}.`}
  }
  const good = params(account.accountSid)
  good.SmsSid = good.MessageSid
  const signed = await post(good, account.authToken)
  const kept = await input.database!.db.deleteFrom('pending_status_callbacks').where('provider_message_id', '=', good.MessageSid).executeTakeFirst().catch(() => undefined)
  if ('error' in signed || signed.status !== 200) {
    return {
      name,
      ok: false,
      detail: `${url} refused a callback signed with tenant ${account.tenantSlug}'s auth token (${'error' in signed ? signed.error : signed.status}).`,
      fix: 'The webhook checks signatures against WEBHOOK_BASE_URL: it must be the exact public URL Twilio calls, and the webhook must read the same database and ENCRYPTION_KEY.',
      failsAs: ProviderError,
    }
  }
  if (Number(kept?.numDeletedRows ?? 0) === 0) {
    return {name, ok: false, detail: `${url} accepted the signed self-test but wrote nothing to ${input.database!.target.display}.`, fix: 'The webhook uses another database: point its DATABASE_URL at this one.', failsAs: ProviderError}
  }
  return {name, ok: true, detail: `${url} refused a bad signature (403) and accepted a callback signed for tenant ${account.tenantSlug} (self-test row removed).`}
}

async function firstTwilioAccount(db: Kysely<any>, keyring: Keyring): Promise<{tenantSlug: string; accountSid: string; authToken: string} | undefined> {
  const rows = (await db
    .selectFrom('tenant_channel_settings as s')
    .innerJoin('tenants as t', 't.id', 's.tenant_id')
    .selectAll('s')
    .select('t.slug as tenant_slug')
    .where('s.provider', '=', 'twilio')
    .where('s.is_enabled', '=', 1)
    .where('s.credentials_encrypted', 'is not', null)
    .orderBy('t.slug')
    .execute()
    .catch(() => [])) as Array<ChannelSettingsRow & {tenant_slug: string}>
  for (const row of rows) {
    try {
      const credentials = openCredentials<TwilioCredentials>(keyring, row)
      if (credentials) return {tenantSlug: row.tenant_slug, accountSid: credentials.accountSid, authToken: credentials.authToken}
    } catch {
      // The key check reports rows that do not decrypt.
    }
  }
  return undefined
}
