import {Flags} from '@oclif/core'
import {BaseCommand} from '../../src/cli/base-command.js'
import {CHANNELS} from '../../src/channel-settings/settings-repository.js'
import {showSettings, type SettingsView} from '../../src/channel-settings/settings-view.js'
import {renderSettingsDetail} from '../../src/channel-settings/render-settings.js'

export default class SettingsShow extends BaseCommand<typeof SettingsShow> {
  static override summary = "Show one tenant's settings for one channel, redacted."
  static override flags = {
    tenant: Flags.string({summary: 'Tenant slug or id.', required: true}),
    channel: Flags.option({options: CHANNELS, summary: 'sms, whatsapp or email.', required: true})(),
  }

  async run(): Promise<SettingsView> {
    const database = await this.database()
    const settings = await showSettings(database, this.flags.tenant, this.flags.channel)
    if (!this.jsonEnabled()) for (const line of renderSettingsDetail(settings)) this.log(line)
    return settings
  }
}
