import {Flags} from '@oclif/core'
import {BaseCommand} from '../../src/cli/base-command.js'
import {sendCampaign, type SendCampaignReport} from '../../src/campaigns/send-campaign.js'
import {openMessageQueueForTenant, queueKindFor} from '../../src/queue/select-queue.js'
import {requireTenant} from '../../src/tenants/tenant-repository.js'

export default class CampaignSend extends BaseCommand<typeof CampaignSend> {
  static override summary = 'Create one message per eligible contact and queue a send job for each.'
  static override description =
    'Every address is validated first; an invalid one refuses the whole send. The USE_AWS_QUEUE cutover flag of the tenant (`engage cutover status`; the environment variable overrides it on this machine) selects SQS (SQS_QUEUE_URL, SQS_ENDPOINT, AWS_REGION) over the local queue in the database. Safe to re-run: no message is created twice, and the ones not yet picked up by a sender are queued again (a duplicate job never sends twice).'

  static override flags = {
    tenant: Flags.string({summary: 'Tenant slug or id.', required: true}),
    campaign: Flags.string({summary: 'Campaign id (from `engage campaign create`).', required: true}),
    'dry-run': Flags.boolean({summary: 'Validate and count recipients; write and queue nothing.', default: false}),
  }

  async run(): Promise<SendCampaignReport> {
    const settings = {get: (name: string) => this.settings.get(name)}
    // Read the queue choice before opening anything, so a bad USE_AWS_QUEUE fails first.
    queueKindFor(settings)
    const database = await this.database()
    // The flag is read per tenant at send time, so a cutover needs no redeploy of anything that sends.
    const tenant = await requireTenant(database.db, this.flags.tenant)
    const {queue, display, flag} = await openMessageQueueForTenant(database, settings, tenant.id)
    this.logger.debug(`USE_AWS_QUEUE=${flag.value} for ${tenant.slug} (from ${flag.source})`)
    const report = await sendCampaign(database, queue, {
      tenant: this.flags.tenant,
      campaignId: this.flags.campaign,
      dryRun: this.flags['dry-run'],
      onProgress: (done, total) => {
        if (done === total || done % 1000 === 0) this.logger.debug(`queued ${done}/${total}`)
      },
    })
    for (const warning of report.warnings) this.logger.warn(warning)
    if (!this.jsonEnabled()) {
      const skipped = `${report.skipped.optedOut} opted out, ${report.skipped.noAddress} without an address skipped`
      if (report.dryRun) {
        this.log(`Dry run: ${report.existing > 0 ? `${report.existing} messages already exist` : `${report.created} messages would be created (${skipped})`}; nothing written.`)
      } else {
        this.log(
          `${report.created > 0 ? `Created ${report.created} messages (${skipped}). ` : `The campaign already has ${report.existing} messages; none created. `}Queued ${report.enqueued} send jobs on the ${display}.`,
        )
      }
    }
    return report
  }
}
