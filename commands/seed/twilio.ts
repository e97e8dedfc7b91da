import {Flags} from '@oclif/core'
import {BaseCommand} from '../../src/cli/base-command.js'
import {askForMissing, canPrompt, promptChoices, promptSecret, promptText, readStdin, type MissingValue} from '../../src/cli/prompts.js'
import {Keyring} from '../../src/crypto/encryption-key.js'
import {renderChannelLine} from '../../src/channel-settings/render.js'
import {redact} from '../../src/channel-settings/redact.js'
import {checkSeedTarget, seedTwilio, TWILIO_CHANNELS, type TwilioChannel, type TwilioSeedResult} from '../../src/channel-settings/seed-twilio.js'
import {assertWebhookUrl, defaultTwilioWebhookUrl} from '../../src/channel-settings/webhook-url.js'
import {UsageError} from '../../src/errors/engage-error.js'
import {assertE164, validateE164} from '../../src/validation/e164.js'
import {assertTwilioSid, validateTwilioSid} from '../../src/validation/twilio-sids.js'

export default class SeedTwilio extends BaseCommand<typeof SeedTwilio> {
  static override summary = "Store a tenant's Twilio settings for sms and/or whatsapp, verified with Twilio first."
  static override description = `The auth token comes from TWILIO_AUTH_TOKEN, from stdin with --auth-token-stdin, or from a masked prompt; never from a flag.
In a terminal, missing values are asked; without one, the command fails naming the flags to pass.
Re-running updates the same rows (one per tenant and channel), keeping their enabled flag and any webhook secret.
Verification (on by default) checks the account is active, the messaging service is in it and the senders are in the
service. If it fails, or Twilio is unreachable, the command exits 6 and the values given are not stored. Rows that
already store exactly those values get the failure recorded (is_verified 0, verification_error "20003: Authenticate").
No webhook secret is generated: Twilio signs callbacks with the auth token (X-Twilio-Signature).`

  static override examples = [
    'TWILIO_AUTH_TOKEN=… <%= config.bin %> seed twilio --tenant acme --account-sid AC… --messaging-service-sid MG… --from +14155550123',
    'printf %s "$TOKEN" | <%= config.bin %> seed twilio --tenant acme --auth-token-stdin --channels sms,whatsapp --from +14155550123 --whatsapp-from +14155550124 --account-sid AC… --messaging-service-sid MG…',
  ]

  static override flags = {
    tenant: Flags.string({summary: 'Tenant slug or id.'}),
    'create-tenant': Flags.boolean({summary: 'Create the tenant (slug = --tenant) if it does not exist.', default: false}),
    name: Flags.string({summary: 'Name of the tenant --create-tenant creates.'}),
    'account-sid': Flags.string({summary: 'Twilio account SID, AC + 32 hex (env TWILIO_ACCOUNT_SID).'}),
    'auth-token-stdin': Flags.boolean({summary: 'Read the Twilio auth token from stdin.', default: false}),
    'messaging-service-sid': Flags.string({summary: 'Messaging service SID, MG + 32 hex.'}),
    from: Flags.string({summary: 'SMS sender number, E.164.'}),
    'whatsapp-from': Flags.string({summary: 'WhatsApp sender number, E.164 (whatsapp: prefix optional).'}),
    channels: Flags.string({
      summary: 'Channels to seed: sms, whatsapp or sms,whatsapp (default: those with a sender given).',
      multiple: true,
      delimiter: ',',
      options: [...TWILIO_CHANNELS],
    }),
    'webhook-url': Flags.string({summary: 'Status callback URL (default $WEBHOOK_BASE_URL/webhooks/twilio).'}),
    verify: Flags.boolean({summary: 'Verify account, service and senders with Twilio before storing.', default: true, allowNo: true}),
  }

  async run(): Promise<TwilioSeedResult> {
    const flags = this.flags
    const env = (name: string) => this.settings.get(name)

    // Shapes of what was passed fail before anything is opened or asked.
    if (flags['account-sid']) assertTwilioSid(flags['account-sid'], 'AC', '--account-sid')
    if (flags['messaging-service-sid']) assertTwilioSid(flags['messaging-service-sid'], 'MG', '--messaging-service-sid')
    if (flags.from) assertE164(flags.from, '--from')
    if (flags['whatsapp-from']) assertE164(flags['whatsapp-from'], '--whatsapp-from', {allowWhatsAppPrefix: true})
    if (flags['webhook-url']) assertWebhookUrl(flags['webhook-url'])
    if (flags.name && !flags['create-tenant']) {
      throw new UsageError('--name only applies with --create-tenant.', {code: 'NAME_WITHOUT_CREATE', suggestions: ['Add --create-tenant, or drop --name.']})
    }

    const keyring = Keyring.fromSettings(env)
    const database = await this.database()

    let tenant = flags.tenant
    let name = flags.name
    let accountSid = flags['account-sid'] ?? env('TWILIO_ACCOUNT_SID')
    let authToken = flags['auth-token-stdin'] ? await readStdin() : env('TWILIO_AUTH_TOKEN')
    let messagingServiceSid = flags['messaging-service-sid']
    let channels = (flags.channels as TwilioChannel[] | undefined) ?? this.channelsFromSenders()
    let smsFrom = flags.from
    let whatsappFrom = flags['whatsapp-from']
    if (flags['auth-token-stdin'] && !authToken) {
      throw new UsageError('--auth-token-stdin was given but stdin was empty.', {code: 'MISSING_AUTH_TOKEN', suggestions: ['Pipe the token: printf %s "$TOKEN" | engage seed twilio --auth-token-stdin …']})
    }

    if (!canPrompt()) {
      // One error naming every missing flag, rather than one per run.
      const missing: MissingValue[] = []
      const need = (flag: string) => missing.push({flag, ask: async () => ''})
      if (!tenant) need('--tenant')
      if (flags['create-tenant'] && !name) need('--name')
      if (!accountSid) need('--account-sid')
      if (!authToken) need('TWILIO_AUTH_TOKEN (or --auth-token-stdin)')
      if (!messagingServiceSid) need('--messaging-service-sid')
      if (channels.length === 0) need('--channels (or --from / --whatsapp-from)')
      if (channels.includes('sms') && !smsFrom) need('--from')
      if (channels.includes('whatsapp') && !whatsappFrom) need('--whatsapp-from')
      await askForMissing(missing, 'seed twilio')
    }

    tenant ??= await promptText('Tenant slug or id:', {validate: (value) => value.trim() !== '' || 'Required.'})
    tenant = tenant.trim()
    // An unknown tenant fails before anyone types a secret.
    const existing = await checkSeedTarget(database, tenant, flags['create-tenant'] ? (name ?? '') : undefined)
    if (flags['create-tenant'] && !existing && !name) name = await promptText(`Name of the new tenant "${tenant}":`, {validate: (value) => value.trim() !== '' || 'Required.'})
    accountSid ??= await promptText('Twilio account SID (AC…):', {validate: validateTwilioSid('AC')})
    authToken ??= await promptSecret(`Auth token for ${redact(accountSid.trim())}:`)
    messagingServiceSid ??= await promptText('Messaging service SID (MG…):', {validate: validateTwilioSid('MG')})
    if (channels.length === 0) channels = await promptChoices('Channels to seed:', TWILIO_CHANNELS, ['sms'])
    if (channels.includes('sms')) smsFrom ??= await promptText('SMS sender number (E.164):', {validate: validateE164()})
    if (channels.includes('whatsapp')) whatsappFrom ??= await promptText('WhatsApp sender number (E.164):', {validate: validateE164({allowWhatsAppPrefix: true})})

    const result = await seedTwilio(
      database,
      keyring,
      {
        tenant,
        createTenantName: flags['create-tenant'] && !existing ? name : undefined,
        accountSid,
        authToken,
        messagingServiceSid,
        channels,
        smsFrom,
        whatsappFrom,
        webhookUrl: flags['webhook-url'] ?? defaultTwilioWebhookUrl(env('WEBHOOK_BASE_URL')),
        verify: flags.verify,
        twilioBaseUrl: env('TWILIO_API_BASE_URL'),
      },
      this.logger,
    )
    if (result.channels.some((row) => row.webhookUrl === null)) {
      this.logger.warn('No webhook URL stored: set WEBHOOK_BASE_URL or pass --webhook-url, or status callbacks will not reach engage.')
    }
    if (!this.jsonEnabled()) this.render(result)
    return result
  }

  private channelsFromSenders(): TwilioChannel[] {
    const channels: TwilioChannel[] = []
    if (this.flags.from) channels.push('sms')
    if (this.flags['whatsapp-from']) channels.push('whatsapp')
    return channels
  }

  private render(result: TwilioSeedResult): void {
    const tenant = result.tenant
    this.log(`Tenant ${tenant.slug} (${tenant.id})${tenant.created ? ' created' : ''}`)
    this.log(
      result.verification.verified
        ? `Verified with Twilio: account ${result.channels[0]?.accountSid} is ${result.verification.accountStatus}, service and senders match.`
        : 'Not verified (--no-verify).',
    )
    for (const row of result.channels) this.log(`  ${renderChannelLine(row)}`)
  }
}
