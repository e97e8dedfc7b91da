import type {Logger} from '../cli/logger.js'
import type {Keyring} from '../crypto/encryption-key.js'
import type {Database} from '../db/database.js'
import {UsageError} from '../errors/engage-error.js'
import {openCredentials, type SesCredentials, type TwilioCredentials} from '../channel-settings/credentials.js'
import {redact} from '../channel-settings/redact.js'
import {getChannelSettings, providerConfigOf, PROVIDER_OF, type Channel, type ChannelSettingsRow} from '../channel-settings/settings-repository.js'
import {settingsNotFound} from '../channel-settings/settings-view.js'
import {requireTenant} from '../tenants/tenant-repository.js'
import type {MessageProvider} from './message-provider.js'
import {SesProvider} from './ses/ses-provider.js'
import {createTwilioClient} from './twilio/twilio-client.js'
import {TwilioSmsProvider, TwilioWhatsAppProvider, type TwilioMessagesClient} from './twilio/twilio-message-provider.js'

export interface ProviderFactoryOptions {
  keyring: Keyring
  /** Configuration lookup (Settings.get or process.env): TWILIO_API_BASE_URL, SES_ENDPOINT. */
  get: (name: string) => string | undefined
  /** Told once per provider built from unverified settings. */
  logger?: Logger
}

/**
 * The ready provider for a tenant's channel, built from its unified settings
 * row. Refuses, with a clear error: an unknown tenant or a channel without
 * settings (NotFoundError), a disabled channel, a provider that does not
 * serve the channel, and Twilio settings without credentials (UsageError).
 * Settings that are stored but not verified are allowed: the provider says so
 * in `verified` and the logger warns, because migrated legacy rows are often
 * unverified yet have been sending.
 */
export async function createMessageProvider(
  database: Database,
  tenantRef: string,
  channel: Channel,
  options: ProviderFactoryOptions,
): Promise<MessageProvider> {
  const tenant = await requireTenant(database.db, tenantRef)
  const row = await getChannelSettings(database.db, tenant.id, channel)
  if (!row) throw settingsNotFound(tenant.slug, channel)
  return providerFromSettings(row, options, tenant.slug)
}

/** createMessageProvider for a row already read (the Lambda reads rows itself). */
export async function providerFromSettings(row: ChannelSettingsRow, options: ProviderFactoryOptions, tenantLabel = row.tenant_id): Promise<MessageProvider> {
  const where = `${tenantLabel} ${row.channel}`
  if (Number(row.is_enabled) !== 1) {
    throw new UsageError(`The ${where} channel is disabled.`, {
      code: 'CHANNEL_DISABLED',
      suggestions: [`Enable it with \`engage settings enable --tenant ${tenantLabel} --channel ${row.channel}\`.`],
      details: {settingsId: row.id},
    })
  }
  if (PROVIDER_OF[row.channel] !== row.provider) {
    throw new UsageError(`The ${where} settings name provider ${row.provider}, which does not serve ${row.channel}.`, {
      code: 'PROVIDER_CHANNEL_MISMATCH',
      suggestions: ['Re-seed the channel with the right `engage seed` command.'],
      details: {settingsId: row.id},
    })
  }
  const verified = Number(row.is_verified) === 1
  if (!verified) options.logger?.warn(`The ${where} settings are not verified; sending anyway.`)
  const config = providerConfigOf(row)
  if (row.provider === 'twilio') {
    const credentials = openCredentials<TwilioCredentials>(options.keyring, row)
    if (!credentials) {
      throw new UsageError(`The ${where} settings have no Twilio credentials.`, {
        code: 'CREDENTIALS_MISSING',
        suggestions: [`Run \`engage seed twilio --tenant ${tenantLabel} --channels ${row.channel}\`.`],
        details: {settingsId: row.id},
      })
    }
    if (typeof config.accountSid === 'string' && config.accountSid !== credentials.accountSid) {
      options.logger?.warn(`The ${where} provider config names account ${redact(config.accountSid)} but the credentials are for ${redact(credentials.accountSid)}; using the credentials.`)
    }
    const baseUrl = options.get('TWILIO_API_BASE_URL') || undefined
    const client: TwilioMessagesClient = await createTwilioClient({accountSid: credentials.accountSid, authToken: credentials.authToken, baseUrl})
    const providerConfig = {messagingServiceSid: row.messaging_service_sid, sender: row.sender, statusCallback: row.webhook_url, verified, baseUrl}
    return row.channel === 'whatsapp' ? new TwilioWhatsAppProvider(client, providerConfig) : new TwilioSmsProvider(client, providerConfig)
  }
  const credentials = openCredentials<SesCredentials>(options.keyring, row)
  if (!row.sender) {
    throw new UsageError(`The ${where} settings have no From address.`, {
      code: 'SENDER_MISSING',
      suggestions: [`Run \`engage seed ses --tenant ${tenantLabel} --from …\`.`],
      details: {settingsId: row.id},
    })
  }
  const region = credentials?.region ?? (typeof config.region === 'string' ? config.region : undefined) ?? options.get('AWS_REGION')
  if (!region) {
    throw new UsageError(`The ${where} settings name no SES region.`, {code: 'REGION_MISSING', suggestions: [`Re-run \`engage seed ses --tenant ${tenantLabel} --region …\`.`]})
  }
  return new SesProvider({
    from: row.sender,
    region,
    configurationSet: typeof config.configurationSet === 'string' ? config.configurationSet : undefined,
    credentials: credentials ? {accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey} : undefined,
    endpoint: options.get('SES_ENDPOINT') || undefined,
    verified,
  })
}
