import {Flags} from '@oclif/core'
import {BaseCommand} from '../../src/cli/base-command.js'
import {confirmAction} from '../../src/cli/confirm.js'
import {InterruptedError} from '../../src/errors/engage-error.js'
import {copyDatabase, DEFAULT_BATCH_SIZE} from '../../src/db-copy/copy-database.js'
import {copyJson, describeProgress, renderCopy} from '../../src/db-copy/render.js'

export default class DbCopy extends BaseCommand<typeof DbCopy> {
  static override summary = 'Copy a migrated SQLite database into PostgreSQL, resumably, and verify it.'
  static override description = `Copies every table (parents before children) from a SQLite database into a PostgreSQL database migrated to the same version (run \`engage migrate up --database-url postgres://…\` on it first). Rows go in batches, each committed with its progress, so a copy that was killed continues where it stopped when run again with the same arguments. Afterwards the sequences are moved past the copied ids and every table's row count and checksum are compared on both sides; any difference exits non-zero naming the table. A target whose tables already hold rows is refused unless --truncate --yes.`
  static override examples = [
    '<%= config.bin %> db copy --from sqlite:./engage.db --to postgres://postgres@127.0.0.1:5432/engage',
    '<%= config.bin %> db copy --from sqlite:./engage.db --to postgres://… --truncate --yes --json',
  ]

  static override flags = {
    from: Flags.string({summary: 'The SQLite database to copy: sqlite:PATH.', helpValue: 'sqlite:PATH', required: true}),
    to: Flags.string({summary: 'The PostgreSQL database to fill: postgres://…', helpValue: 'postgres://…', required: true}),
    truncate: Flags.boolean({summary: 'Empty the target tables first if they hold rows (asks for confirmation; --yes in scripts).'}),
    yes: Flags.boolean({char: 'y', summary: 'Do not ask for confirmation (required with --truncate without a terminal).'}),
    'batch-size': Flags.integer({summary: `Rows per committed batch (default ${DEFAULT_BATCH_SIZE}).`, min: 1, default: DEFAULT_BATCH_SIZE}),
  }

  public async run(): Promise<Record<string, unknown>> {
    if (this.flags.truncate) {
      const confirmed = await confirmAction({
        message: 'Delete every row of the target tables that already hold rows, then copy?',
        action: '--truncate (emptying the target tables)',
        yes: this.flags.yes,
      })
      if (!confirmed) throw new InterruptedError('Not confirmed: nothing was truncated or copied.', {code: 'NOT_CONFIRMED'})
    }
    const result = await copyDatabase({
      from: this.flags.from,
      to: this.flags.to,
      batchSize: this.flags['batch-size'],
      truncate: this.flags.truncate,
      onProgress: (event) => {
        const line = describeProgress(event)
        if (line) this.logger.info(line)
      },
    })
    if (!this.jsonEnabled()) for (const line of renderCopy(result)) this.log(line)
    if (result.error) {
      // --json: the one document is the error, with the per-table results in its details.
      if (this.jsonEnabled()) Object.assign(result.error, {details: {...result.error.details, result: copyJson(result)}})
      throw result.error
    }
    return copyJson(result)
  }
}
