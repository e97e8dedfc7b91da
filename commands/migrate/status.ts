import {BaseCommand} from '../../src/cli/base-command.js'
import {renderStatus} from '../../src/cli/migrate-render.js'
import {createMigrator} from '../../src/migrate/migrator.js'
import type {MigrationStatusResult} from '../../src/migrate/results.js'

export default class MigrateStatus extends BaseCommand<typeof MigrateStatus> {
  static override summary = 'List applied, pending and drifted migrations.'
  static override description = `Compares the migrations in this version of engage with the records in engage_migrations: who applied each one, when, how long it took, and the checksum. "drifted" means an applied migration was edited afterwards or no longer exists in the code; \`migrate up\` refuses to run until that is resolved. Reads only; exits 0 whatever the state.`
  static override examples = ['<%= config.bin %> migrate status', '<%= config.bin %> migrate status --json']

  public async run(): Promise<MigrationStatusResult> {
    const database = await this.database()
    const status = await createMigrator({database, settings: this.settings, logger: this.logger}).status()
    if (!this.jsonEnabled()) for (const line of renderStatus(status)) this.log(line)
    return status
  }
}
