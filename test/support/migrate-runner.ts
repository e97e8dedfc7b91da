/**
 * A separate process that runs the migration engine with one custom, slow
 * migration, so tests can race two runs or SIGKILL one half-way.
 *
 *   node --import tsx test/support/migrate-runner.ts DATABASE_URL hang|sleep|fast [LOCK_TIMEOUT_MS]
 *
 * The migration is always `0001-slow-table` with the same checksum: it creates
 * table `slow_table`, writes a row, prints MIGRATION_INSIDE on stderr, then
 * `hang` waits forever, `sleep` waits 1.5 s, `fast` returns. The run's result
 * is printed as JSON on stdout; the exit code is the error's, or 0.
 */
import {sql} from 'kysely'
import {openDatabase} from '../../src/db/database.js'
import {isEngageError} from '../../src/errors/engage-error.js'
import {tableMigration, testMigrator} from './migrate-fixtures.js'

export const RUNNER_MARKER = 'MIGRATION_INSIDE'

const [url, mode = 'fast', lockTimeout = '10000'] = process.argv.slice(2)
if (!url) throw new Error('usage: migrate-runner.ts DATABASE_URL hang|sleep|fast [LOCK_TIMEOUT_MS]')

const database = await openDatabase(url, {create: true, busyTimeoutMs: Number(lockTimeout)})
const migration = tableMigration('0001-slow-table', 'slow_table', {
  source: 'slow-table-v1',
  afterCreate: async (context) => {
    await sql`INSERT INTO slow_table (id, note) VALUES (1, 'inside')`.execute(context.db)
    process.stderr.write(`${RUNNER_MARKER}\n`)
    if (mode === 'hang') await new Promise((resolve) => setTimeout(resolve, 600_000))
    if (mode === 'sleep') await new Promise((resolve) => setTimeout(resolve, 1500))
  },
})
try {
  const result = await testMigrator(database, {migrations: [migration], lockTimeoutMs: Number(lockTimeout)}).up()
  process.stdout.write(
    JSON.stringify({results: result.results, error: result.error && isEngageError(result.error) ? result.error.toJSON() : undefined}) + '\n',
  )
  process.exitCode = result.error?.exitCode ?? 0
} finally {
  await database.close()
}
