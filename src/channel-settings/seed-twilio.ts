import type {Logger} from '../cli/logger.js'
import type {Keyring} from '../crypto/encryption-key.js'
import {inWriteTransaction, type Database} from '../db/database.js'
import {ProviderError, UsageError} from '../errors/engage-error.js'
import {verifyTwilio, type TwilioVerification} from '../providers/twilio/verify-twilio.js'
import {createTenant, findTenant, requireTenant, assertTenantSlug, type Tenant} from '../tenants/tenant-repository.js'
import {assertE164} from '../validation/e164.js'
import {assertTwilioSid} from '../validation/twilio-sids.js'
import {sealCredentials} from './credentials.js'
import {recordFailedVerification} from './record-verification.js'
import {redact} from './redact.js'
import {assertUnifiedSchema, upsertChannelSettings} from './settings-repository.js'
import {assertWebhookUrl} from './webhook-url.js'

export const TWILIO_CHANNELS = ['sms', 'whatsapp'] as const
export type TwilioChannel = (typeof TWILIO_CHANNELS)[number]

/** Everything `seed twilio` needs, already gathered from flags, environment and prompts. */
export interface TwilioSeedInput {
  /** Slug or id of the tenant. */
  tenant: string
  /** Create the tenant (slug = `tenant`) with this name when it does not exist. */
  createTenantName?: string
  accountSid: string
  authToken: string
  messagingServiceSid: string
  channels: TwilioChannel[]
  smsFrom?: string
  whatsappFrom?: string
  /** null: keep the stored URL (a new row gets none). */
  webhookUrl: string | null
  verify: boolean
  /** TWILIO_API_BASE_URL, for the local sandbox. */
  twilioBaseUrl?: string
}

/** One written row, as the summary shows it: identifiers redacted, no secret. */
export interface SeededChannel {
  id: number
  channel: TwilioChannel | 'email'
  provider: 'twilio' | 'ses'
  action: 'created' | 'updated'
  sender: string | null
  accountSid?: string | null
  messagingServiceSid?: string | null
  accessKeyId?: string | null
  region?: string
  configurationSet?: string | null
  webhookUrl: string | null
  isEnabled: boolean
  isVerified: boolean
  verifiedAt: string | null
  credentialsKeyId: string | null
}

export interface TwilioSeedResult {
  tenant: {id: string; slug: string; name: string; created: boolean}
  verification: (TwilioVerification & {verified: true}) | {verified: false; skipped: true}
  channels: SeededChannel[]
}

/**
 * Checks the shapes of a seed input without touching the database or the
 * network; returns it normalised (trimmed, E.164 senders without prefixes).
 */
export function normaliseTwilioSeedInput(input: TwilioSeedInput): TwilioSeedInput {
  if (input.channels.length === 0) {
    throw new UsageError('No channel to seed.', {code: 'NO_CHANNELS', suggestions: ['Pass --channels sms, --channels whatsapp or --channels sms,whatsapp.']})
  }
  const unknown = input.channels.filter((channel) => !TWILIO_CHANNELS.includes(channel))
  if (unknown.length > 0) {
    throw new UsageError(`Twilio serves sms and whatsapp, not ${unknown.join(', ')}.`, {
      code: 'INVALID_CHANNEL',
      suggestions: ['Use `engage seed ses` for email.'],
    })
  }
  const channels = [...new Set(input.channels)]
  if (channels.includes('sms') && !input.smsFrom) {
    throw new UsageError('The sms channel needs a sender number.', {code: 'MISSING_SENDER', suggestions: ['Pass --from +14155550123.']})
  }
  if (channels.includes('whatsapp') && !input.whatsappFrom) {
    throw new UsageError('The whatsapp channel needs a WhatsApp sender number.', {
      code: 'MISSING_SENDER',
      suggestions: ['Pass --whatsapp-from +14155550123 (with or without the whatsapp: prefix).'],
    })
  }
  if (input.authToken.trim() === '') {
    throw new UsageError('The Twilio auth token is empty.', {
      code: 'MISSING_AUTH_TOKEN',
      suggestions: ['Set TWILIO_AUTH_TOKEN, pipe it with --auth-token-stdin, or run in a terminal to be asked.'],
    })
  }
  if (input.createTenantName !== undefined) {
    assertTenantSlug(input.tenant)
    if (input.createTenantName.trim() === '') {
      throw new UsageError('--create-tenant needs a tenant name.', {code: 'MISSING_TENANT_NAME', suggestions: ['Pass --name "Acme Ltd".']})
    }
  }
  return {
    ...input,
    channels,
    createTenantName: input.createTenantName?.trim(),
    accountSid: assertTwilioSid(input.accountSid, 'AC', '--account-sid'),
    authToken: input.authToken.trim(),
    messagingServiceSid: assertTwilioSid(input.messagingServiceSid, 'MG', '--messaging-service-sid'),
    smsFrom: channels.includes('sms') && input.smsFrom ? assertE164(input.smsFrom, '--from') : undefined,
    whatsappFrom:
      channels.includes('whatsapp') && input.whatsappFrom ? assertE164(input.whatsappFrom, '--whatsapp-from', {allowWhatsAppPrefix: true}) : undefined,
    webhookUrl: input.webhookUrl === null ? null : assertWebhookUrl(input.webhookUrl),
  }
}

/**
 * The tenant a seed writes to: found by slug or id, or (with a name) to be
 * created later inside the write transaction. Commands call it before they
 * prompt, so an unknown tenant fails before anyone types a secret.
 */
export async function checkSeedTarget(
  database: Database,
  tenant: string,
  createTenantName: string | undefined,
): Promise<Tenant | undefined> {
  await assertUnifiedSchema(database.db)
  if (createTenantName !== undefined) {
    const existing = await findTenant(database.db, tenant)
    if (!existing) assertTenantSlug(tenant)
    return existing
  }
  return requireTenant(database.db, tenant, {canCreate: true})
}

/**
 * Stores Twilio settings for a tenant's sms and/or whatsapp channel: verifies
 * them with Twilio first (unless `verify` is false), then, in one write
 * transaction, creates the tenant if asked and inserts or updates one row per
 * channel. Any failure, verification included, stores nothing of the input:
 * an existing row keeps its values. A failed verification of exactly what a
 * row already stores is recorded on that row (is_verified 0,
 * verification_error), since it is the truth about it; the error is thrown
 * all the same. Re-running with the same input updates the
 * same rows. An existing webhook secret and the enabled flag are kept.
 */
export async function seedTwilio(
  database: Database,
  keyring: Keyring,
  rawInput: TwilioSeedInput,
  logger: Logger,
): Promise<TwilioSeedResult> {
  const input = normaliseTwilioSeedInput(rawInput)
  await checkSeedTarget(database, input.tenant, input.createTenantName)

  let verification: TwilioVerification | undefined
  if (input.verify) {
    logger.info(`Verifying account ${redact(input.accountSid)} and service ${input.messagingServiceSid} with Twilio…`)
    try {
      verification = await verifyTwilio({
        accountSid: input.accountSid,
        authToken: input.authToken,
        messagingServiceSid: input.messagingServiceSid,
        smsSender: input.smsFrom,
        whatsappSender: input.whatsappFrom,
        baseUrl: input.twilioBaseUrl,
      })
    } catch (error) {
      if (!(error instanceof ProviderError)) throw error
      const verificationError = typeof error.details?.verificationError === 'string' ? error.details.verificationError : `${error.code}: ${error.message}`
      // The input is never stored; rows that already hold exactly it get the failure recorded.
      const marked = await recordFailedVerification(database, keyring, {
        tenant: input.tenant,
        accountSid: input.accountSid,
        authToken: input.authToken,
        messagingServiceSid: input.messagingServiceSid,
        channels: input.channels.map((channel) => ({channel, sender: channel === 'sms' ? input.smsFrom! : input.whatsappFrom!})),
        verificationError,
      })
      const outcome =
        marked.length === 0
          ? 'Nothing was written.'
          : `Nothing new was stored; the stored ${marked.join(' and ')} settings, which are exactly these, are now marked unverified with "${verificationError}".`
      throw new ProviderError(`Twilio verification failed: ${error.message} ${outcome}`, {
        code: error.code,
        suggestions: error.suggestions,
        details: {...error.details, verificationError, recordedOn: marked},
      })
    }
  } else {
    logger.warn('Skipping verification (--no-verify): the settings are stored as unverified.')
  }

  return inWriteTransaction(database, async (trx) => {
    const now = new Date().toISOString()
    let tenant = await findTenant(trx, input.tenant)
    let created = false
    if (!tenant) {
      // checkSeedTarget has already refused a missing tenant without a name.
      tenant = await createTenant(trx, {slug: input.tenant, name: input.createTenantName ?? input.tenant, now})
      created = true
    }
    const channels: SeededChannel[] = []
    for (const channel of input.channels) {
      const sender = channel === 'sms' ? input.smsFrom! : input.whatsappFrom!
      const written = await upsertChannelSettings(trx, {
        tenantId: tenant.id,
        channel,
        provider: 'twilio',
        sender,
        providerConfig: {accountSid: input.accountSid},
        credentialsEncrypted: sealCredentials(keyring, tenant.id, channel, {accountSid: input.accountSid, authToken: input.authToken}),
        messagingServiceSid: input.messagingServiceSid,
        webhookUrl: input.webhookUrl ?? undefined,
        isVerified: verification !== undefined,
        verifiedAt: verification?.verifiedAt ?? null,
        verificationError: null,
        now,
      })
      channels.push({
        id: written.row.id,
        channel,
        provider: 'twilio',
        action: written.action,
        sender,
        accountSid: redact(input.accountSid),
        messagingServiceSid: input.messagingServiceSid,
        webhookUrl: written.row.webhook_url,
        isEnabled: Number(written.row.is_enabled) === 1,
        isVerified: verification !== undefined,
        verifiedAt: verification?.verifiedAt ?? null,
        credentialsKeyId: keyring.current.id,
      })
    }
    return {
      tenant: {id: tenant.id, slug: tenant.slug, name: tenant.name, created},
      verification: verification ? {...verification, verified: true as const} : {verified: false as const, skipped: true as const},
      channels,
    }
  })
}
