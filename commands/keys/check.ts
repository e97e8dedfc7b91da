import {Flags} from '@oclif/core'
import {BaseCommand} from '../../src/cli/base-command.js'
import {Keyring} from '../../src/crypto/encryption-key.js'
import {checkKeys, keyCheckFailed, type KeyCheckReport} from '../../src/keys/check.js'

export default class KeysCheck extends BaseCommand<typeof KeysCheck> {
  static override summary = 'Check that every encrypted value decrypts with the configured key(s); count values per key id.'
  static override description =
    'Reads only. Exits 5 naming each failing row by table, column and id (never its value). ENCRYPTION_KEY_PREVIOUS, when set, is accepted too.'

  static override flags = {
    'batch-size': Flags.integer({summary: 'Rows read per query.', default: 500, min: 1}),
  }

  async run(): Promise<KeyCheckReport> {
    const keyring = Keyring.fromSettings((name) => this.settings.get(name))
    const database = await this.database()
    const report = await checkKeys(database, keyring, {batchSize: this.flags['batch-size']})
    if (report.failures.length > 0) throw keyCheckFailed(report)
    if (!this.jsonEnabled()) {
      this.log(`${report.total} encrypted values decrypt. Current key ${report.currentKeyId}.`)
      for (const [keyId, count] of Object.entries(report.byKey)) {
        this.log(`  key ${keyId}${keyId === report.currentKeyId ? ' (current)' : ' (previous)'}: ${count}`)
      }
      for (const column of report.columns) this.log(`  ${column.table}.${column.column}: ${column.values}`)
      for (const skipped of report.skipped) this.logger.warn(`${skipped.table}.${skipped.column} does not exist in this database (not migrated); skipped.`)
      if (report.notCurrent > 0) this.logger.warn(`${report.notCurrent} values are still under a previous key: run \`engage keys rotate\`.`)
    }
    return report
  }
}
