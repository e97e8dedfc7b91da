import {Flags} from '@oclif/core'
import {BaseCommand} from '../../src/cli/base-command.js'
import {createCampaign, type CreatedCampaign} from '../../src/campaigns/create-campaign.js'
import {readCampaignBody} from '../../src/campaigns/read-body.js'
import {MESSAGING_CHANNELS} from '../../src/messaging/recipients.js'

export default class CampaignCreate extends BaseCommand<typeof CampaignCreate> {
  static override summary = 'Create a draft campaign for a tenant; prints its id.'
  static override description =
    'SMS and WhatsApp bodies longer than 10 segments are refused (GSM-7: 160/153 septets per segment; UCS-2: 70/67). Email needs --subject. Nothing is sent: use `engage campaign send`.'

  static override flags = {
    tenant: Flags.string({summary: 'Tenant slug or id.', required: true}),
    channel: Flags.option({options: MESSAGING_CHANNELS, summary: 'sms, whatsapp or email.', required: true})(),
    body: Flags.string({summary: 'The message text.'}),
    'body-file': Flags.string({summary: 'Read the message text from this UTF-8 file instead.'}),
    subject: Flags.string({summary: 'Email subject (email only, required there).'}),
    name: Flags.string({summary: 'A name for the campaign (default: channel and creation time).'}),
  }

  async run(): Promise<CreatedCampaign> {
    const body = readCampaignBody({body: this.flags.body, bodyFile: this.flags['body-file']})
    const database = await this.database()
    const campaign = await createCampaign(database, {
      tenant: this.flags.tenant,
      channel: this.flags.channel,
      body,
      subject: this.flags.subject,
      name: this.flags.name,
    })
    if (!this.jsonEnabled()) {
      this.log(campaign.id)
      const size = campaign.segments ? `, ${campaign.segments.segments} segment(s) ${campaign.segments.encoding}` : ''
      this.logger.info(`Created draft ${campaign.channel} campaign "${campaign.name}" for ${campaign.tenantSlug}${size}.`)
    }
    return campaign
  }
}
