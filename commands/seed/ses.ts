import {Flags} from '@oclif/core'
import {BaseCommand} from '../../src/cli/base-command.js'
import {askForMissing, canPrompt, promptText, type MissingValue} from '../../src/cli/prompts.js'
import {Keyring} from '../../src/crypto/encryption-key.js'
import {renderChannelLine} from '../../src/channel-settings/render.js'
import {seedSes, type SesSeedResult} from '../../src/channel-settings/seed-ses.js'
import {checkSeedTarget} from '../../src/channel-settings/seed-twilio.js'
import {UsageError} from '../../src/errors/engage-error.js'
import {assertEmailAddress, validateEmailAddress} from '../../src/validation/email.js'

export default class SeedSes extends BaseCommand<typeof SeedSes> {
  static override summary = "Store a tenant's Amazon SES settings for the email channel."
  static override description = `Access keys come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and are stored encrypted;
with neither set, nothing secret is stored and the sender uses its IAM role. Re-running updates the same row.`

  static override examples = [
    '<%= config.bin %> seed ses --tenant acme --from notifications@acme.example --region eu-west-1',
    'AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… <%= config.bin %> seed ses --tenant acme --from hi@acme.example --configuration-set engage',
  ]

  static override flags = {
    tenant: Flags.string({summary: 'Tenant slug or id.'}),
    'create-tenant': Flags.boolean({summary: 'Create the tenant (slug = --tenant) if it does not exist.', default: false}),
    name: Flags.string({summary: 'Name of the tenant --create-tenant creates.'}),
    from: Flags.string({summary: 'From address: a verified SES identity.'}),
    region: Flags.string({summary: 'SES region (default AWS_REGION).'}),
    'configuration-set': Flags.string({summary: 'SES configuration set for event publishing.'}),
  }

  async run(): Promise<SesSeedResult> {
    const flags = this.flags
    const env = (name: string) => this.settings.get(name)
    if (flags.from) assertEmailAddress(flags.from, '--from')
    if (flags.name && !flags['create-tenant']) {
      throw new UsageError('--name only applies with --create-tenant.', {code: 'NAME_WITHOUT_CREATE', suggestions: ['Add --create-tenant, or drop --name.']})
    }
    let tenant = flags.tenant
    let name = flags.name
    let from = flags.from
    let region = flags.region ?? env('AWS_REGION')
    if (!canPrompt()) {
      const missing: MissingValue[] = []
      const need = (flag: string) => missing.push({flag, ask: async () => ''})
      if (!tenant) need('--tenant')
      if (flags['create-tenant'] && !name) need('--name')
      if (!from) need('--from')
      if (!region) need('--region (or AWS_REGION)')
      await askForMissing(missing, 'seed ses')
    }
    const database = await this.database()
    tenant ??= await promptText('Tenant slug or id:', {validate: (value) => value.trim() !== '' || 'Required.'})
    tenant = tenant.trim()
    const existing = await checkSeedTarget(database, tenant, flags['create-tenant'] ? (name ?? '') : undefined)
    if (flags['create-tenant'] && !existing && !name) name = await promptText(`Name of the new tenant "${tenant}":`, {validate: (value) => value.trim() !== '' || 'Required.'})
    from ??= await promptText('From address:', {validate: validateEmailAddress})
    region ??= await promptText('SES region:', {default: 'us-east-1'})

    const result = await seedSes(
      database,
      () => Keyring.fromSettings(env),
      {
        tenant,
        createTenantName: flags['create-tenant'] && !existing ? name : undefined,
        from,
        region,
        configurationSet: flags['configuration-set'],
        accessKeyId: env('AWS_ACCESS_KEY_ID'),
        secretAccessKey: env('AWS_SECRET_ACCESS_KEY'),
      },
      this.logger,
    )
    if (!this.jsonEnabled()) {
      this.log(`Tenant ${result.tenant.slug} (${result.tenant.id})${result.tenant.created ? ' created' : ''}`)
      this.log(`  ${renderChannelLine(result.channel)}`)
      this.log(result.credentials === 'stored' ? 'Access key stored encrypted.' : 'No access key stored: the sender uses its IAM role.')
    }
    return result
  }
}
