import {Flags} from '@oclif/core'
import {BaseCommand} from '../../src/cli/base-command.js'
import {Keyring} from '../../src/crypto/encryption-key.js'
import {rotateKeys, rotationIncomplete, type RotateReport} from '../../src/keys/rotate.js'

export default class KeysRotate extends BaseCommand<typeof KeysRotate> {
  static override summary = 'Re-encrypt every encrypted value with ENCRYPTION_KEY, reading old values with ENCRYPTION_KEY_PREVIOUS.'
  static override description = `Works in batches, each its own short write transaction, verified with the new key before it commits.
Safe to interrupt: re-running re-encrypts only what is still under the old key. Afterwards \`engage keys check\` passes without ENCRYPTION_KEY_PREVIOUS.`

  static override examples = ['ENCRYPTION_KEY=<new> ENCRYPTION_KEY_PREVIOUS=<old> <%= config.bin %> keys rotate --batch-size 500']

  static override flags = {
    'batch-size': Flags.integer({summary: 'Values per write transaction.', default: 200, min: 1}),
  }

  async run(): Promise<RotateReport> {
    const keyring = Keyring.fromSettings((name) => this.settings.get(name))
    const database = await this.database()
    this.logger.info(`Rotating to key ${keyring.current.id}${keyring.previous.length > 0 ? ` from ${keyring.previous.map((key) => key.id).join(', ')}` : ''}…`)
    const report = await rotateKeys(database, keyring, {
      batchSize: this.flags['batch-size'],
      onProgress: (progress) =>
        this.logger.debug(
          `rotate ${progress.table}.${progress.column}: batch ${progress.batch}, ${progress.reencrypted}/${progress.pending} re-encrypted (through id ${progress.lastId})`,
        ),
    })
    for (const column of report.columns) {
      this.logger.info(`  ${column.table}.${column.column}: ${column.reencrypted} re-encrypted, ${column.alreadyCurrent} already current, ${column.failed} failed`)
    }
    if (report.failed > 0) throw rotationIncomplete(report)
    if (!this.jsonEnabled()) {
      this.log(
        report.reencrypted === 0
          ? `Nothing to rotate: all ${report.alreadyCurrent} values are already under key ${report.currentKeyId}.`
          : `Re-encrypted ${report.reencrypted} values under key ${report.currentKeyId} in ${report.batches} batches (${report.alreadyCurrent} were already current).`,
      )
    }
    return report
  }
}
