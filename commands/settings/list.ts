import {Flags} from '@oclif/core'
import {BaseCommand} from '../../src/cli/base-command.js'
import {listSettings, type SettingsView} from '../../src/channel-settings/settings-view.js'
import {renderSettingsRow} from '../../src/channel-settings/render-settings.js'

export default class SettingsList extends BaseCommand<typeof SettingsList> {
  static override summary = 'List channel settings, redacted: no secret is ever printed.'
  static override flags = {
    tenant: Flags.string({summary: 'Only this tenant (slug or id).'}),
  }

  async run(): Promise<{settings: SettingsView[]}> {
    const database = await this.database()
    const settings = await listSettings(database, {tenant: this.flags.tenant})
    if (!this.jsonEnabled()) {
      if (settings.length === 0) this.logger.info('No channel settings.')
      for (const row of settings) this.log(renderSettingsRow(row))
    }
    return {settings}
  }
}
