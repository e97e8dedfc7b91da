import {Flags} from '@oclif/core'
import {BaseCommand} from '../../src/cli/base-command.js'
import {confirmAction} from '../../src/cli/confirm.js'
import {lockTimeoutFlag} from '../../src/cli/migrate-flags.js'
import {progressListener, progressSteps, renderRun, runJson} from '../../src/cli/migrate-render.js'
import {createStepProgress} from '../../src/cli/progress.js'
import {createMigrator} from '../../src/migrate/migrator.js'

export default class MigrateDown extends BaseCommand<typeof MigrateDown> {
  static override summary = 'Revert applied migrations (default: the latest one).'
  static override description = `Reverts applied migrations, newest first, each in its own transaction with the removal of its record. This can drop data, so it asks for confirmation in a terminal; pass --yes in scripts (with no terminal and no --yes it fails, exit 2). Reverting 0001-legacy-baseline is refused unless every backend table is empty.`
  static override examples = [
    '<%= config.bin %> migrate down',
    '<%= config.bin %> migrate down --step 2 --yes',
    '<%= config.bin %> migrate down --to 0002 --yes',
  ]

  static override flags = {
    to: Flags.string({
      summary: 'Revert applied migrations down to and including this one (name or NNNN prefix).',
      helpValue: 'NAME',
      exclusive: ['step'],
    }),
    step: Flags.integer({summary: 'Revert this many of the latest applied migrations.', min: 1, exclusive: ['to']}),
    yes: Flags.boolean({char: 'y', summary: 'Do not ask for confirmation (required without a terminal).'}),
    'lock-timeout': lockTimeoutFlag(),
  }

  public async run(): Promise<Record<string, unknown>> {
    const lockTimeoutMs = this.flags['lock-timeout']
    const database = await this.database({busyTimeoutMs: lockTimeoutMs})
    const migrator = createMigrator({database, settings: this.settings, logger: this.logger, lockTimeoutMs})
    const target = {to: this.flags.to, step: this.flags.step}
    const planned = await migrator.plan('down', target)
    if (planned.length === 0) {
      if (!this.jsonEnabled()) this.log('Nothing to do: no migration is applied.')
      return {database: database.target.display, direction: 'down', dryRun: false, outcome: 'nothing-to-do', migrations: []}
    }
    const count = `${planned.length} migration${planned.length === 1 ? '' : 's'}`
    const confirmed = await confirmAction({
      message: `Revert ${count} on ${database.target.display} (${planned.join(', ')})? This can drop data.`,
      action: `Reverting ${count} (${planned.join(', ')})`,
      yes: this.flags.yes,
    })
    if (!confirmed) {
      if (!this.jsonEnabled()) this.log('Cancelled: nothing was reverted.')
      return {database: database.target.display, direction: 'down', dryRun: false, outcome: 'cancelled', migrations: []}
    }
    const progress = await createStepProgress(progressSteps(planned, 'down'), {interactive: this.interactive, logger: this.logger})
    const result = await migrator.down({...target, onProgress: progressListener(progress)})
    await progress.finish()
    if (!this.jsonEnabled()) for (const line of renderRun(result)) this.log(line)
    if (result.error) throw result.error
    return runJson(result, database.target.display)
  }
}
