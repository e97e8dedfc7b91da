import {Flags} from '@oclif/core'
import {BaseCommand} from '../../src/cli/base-command.js'
import {CHANNELS} from '../../src/channel-settings/settings-repository.js'
import {setSettingsEnabled, type EnableResult} from '../../src/channel-settings/settings-view.js'

export default class SettingsDisable extends BaseCommand<typeof SettingsDisable> {
  static override summary = "Disable a tenant's channel (the row must exist). Already disabled is success."
  static override flags = {
    tenant: Flags.string({summary: 'Tenant slug or id.', required: true}),
    channel: Flags.option({options: CHANNELS, summary: 'sms, whatsapp or email.', required: true})(),
  }

  async run(): Promise<EnableResult> {
    const database = await this.database()
    const result = await setSettingsEnabled(database, this.flags.tenant, this.flags.channel, false)
    for (const warning of result.warnings) this.logger.warn(warning)
    if (!this.jsonEnabled()) {
      const where = `${result.settings.tenant.slug} ${result.settings.channel}`
      this.log(result.changed ? `${where}: disabled.` : `${where}: already disabled, nothing changed.`)
    }
    return result
  }
}
