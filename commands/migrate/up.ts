import {Flags} from '@oclif/core'
import {BaseCommand} from '../../src/cli/base-command.js'
import {lockTimeoutFlag} from '../../src/cli/migrate-flags.js'
import {progressListener, progressSteps, renderRun, runJson} from '../../src/cli/migrate-render.js'
import {createStepProgress} from '../../src/cli/progress.js'
import {createMigrator} from '../../src/migrate/migrator.js'

export default class MigrateUp extends BaseCommand<typeof MigrateUp> {
  static override summary = 'Apply pending migrations.'
  static override description = `Applies the pending migrations in order, each in its own transaction together with its record in engage_migrations. A missing SQLite file is created. An applied migration whose source changed, or a recorded migration that no longer exists, stops the run (exit 4). Another writer holding the database makes it fail after --lock-timeout (exit 3) with nothing changed.`
  static override examples = [
    '<%= config.bin %> migrate up',
    '<%= config.bin %> migrate up --dry-run',
    '<%= config.bin %> migrate up --to 0001 --database-url postgres://app@db:5432/engage',
  ]

  static override flags = {
    to: Flags.string({summary: 'Apply pending migrations up to and including this one (name or NNNN prefix).', helpValue: 'NAME'}),
    'dry-run': Flags.boolean({
      summary: 'Run the pending migrations in one transaction, print their reports, then roll everything back.',
    }),
    'archive-undecryptable': Flags.boolean({
      summary: 'Migration 0002: archive legacy credentials that do not decrypt instead of stopping.',
    }),
    'lock-timeout': lockTimeoutFlag(),
  }

  public async run(): Promise<Record<string, unknown>> {
    const lockTimeoutMs = this.flags['lock-timeout']
    const database = await this.database({create: true, busyTimeoutMs: lockTimeoutMs})
    const migrator = createMigrator({
      database,
      settings: this.settings,
      logger: this.logger,
      lockTimeoutMs,
      options: {archiveUndecryptable: this.flags['archive-undecryptable']},
    })
    const dryRun = this.flags['dry-run']
    const planned = await migrator.plan('up', {to: this.flags.to})
    const progress = await createStepProgress(progressSteps(planned, 'up', dryRun), {
      interactive: this.interactive && planned.length > 0,
      logger: this.logger,
    })
    const result = await migrator.up({to: this.flags.to, dryRun, onProgress: progressListener(progress)})
    await progress.finish()
    if (!this.jsonEnabled()) for (const line of renderRun(result)) this.log(line)
    if (result.error) throw result.error
    return runJson(result, database.target.display)
  }
}
