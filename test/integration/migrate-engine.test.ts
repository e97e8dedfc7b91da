import {spawn} from 'node:child_process'
import {join} from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import {sql} from 'kysely'
import pg from 'pg'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {MIGRATIONS} from '../../migrations/index.js'
import {openDatabase, type Database} from '../../src/db/database.js'
import {MIGRATION_LOCK_KEY} from '../../src/migrate/lock.js'
import {LEGACY_INDEXES, LEGACY_SQLITE_STATEMENTS, LEGACY_TABLES} from '../../src/schema/legacy-schema.js'
import {createTestDatabase, DIALECTS, type TestDatabase} from '../support/databases.js'
import {dumpTables, legacyStatements, recordsOf, tableMigration, tablesOf, testMigrator} from '../support/migrate-fixtures.js'
import {PROJECT_ROOT} from '../support/run-cli.js'

const BASELINE = MIGRATIONS[0]!.name

describe.each(DIALECTS)('migration engine on %s', (dialect) => {
  let testDb: TestDatabase
  let database: Database

  beforeEach(async () => {
    testDb = await createTestDatabase(dialect)
    database = await testDb.open()
  })
  afterEach(async () => {
    await testDb.dispose()
  })

  it('creates exactly the contract schema on an empty database and records who applied it', async () => {
    const result = await testMigrator(database).up({to: BASELINE})

    expect(result.error).toBeUndefined()
    expect(result.results).toEqual([
      expect.objectContaining({name: BASELINE, status: 'applied', report: expect.objectContaining({mode: 'created'})}),
    ])
    expect(await tablesOf(database)).toEqual([...LEGACY_TABLES, 'engage_migrations'].sort())
    if (dialect === 'sqlite') {
      const objects = database.sqlite!
        .prepare("SELECT name, sql FROM sqlite_master WHERE name NOT IN ('sqlite_sequence', 'engage_migrations') AND sql IS NOT NULL")
        .all() as {name: string; sql: string}[]
      expect(objects.map((object) => object.sql).sort()).toEqual([...LEGACY_SQLITE_STATEMENTS].sort())
    } else {
      const {rows} = await sql<{indexname: string}>`SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()`.execute(database.db)
      expect(rows.map((row) => row.indexname)).toEqual(expect.arrayContaining([...LEGACY_INDEXES]))
    }
    const [record] = await recordsOf(database)
    expect(record).toEqual({
      name: BASELINE,
      checksum: MIGRATIONS[0]!.checksum,
      appliedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      durationMs: expect.any(Number),
      appliedBy: 'engine-test',
    })
  })

  it('baselines a database that already has the legacy schema, touching no row', async () => {
    for (const statement of legacyStatements(dialect)) await sql.raw(statement).execute(database.db)
    await seedLegacyRows(database)
    const before = await dumpTables(database.db, LEGACY_TABLES)

    const result = await testMigrator(database).up({to: BASELINE})

    expect(result.error).toBeUndefined()
    expect(result.results[0]).toMatchObject({name: BASELINE, status: 'applied', report: {mode: 'baseline', rowsTouched: 0}})
    expect(await dumpTables(database.db, LEGACY_TABLES)).toEqual(before)
    expect((await recordsOf(database)).map((record) => record.name)).toEqual([BASELINE])
  })

  it('refuses a partial legacy schema, lists what is missing and changes nothing', async () => {
    for (const statement of legacyStatements(dialect).slice(0, 2)) await sql.raw(statement).execute(database.db)
    const before = await tablesOf(database)

    const result = await testMigrator(database).up()

    expect(result.error).toMatchObject({name: 'MigrationError', code: 'LEGACY_SCHEMA_INCOMPLETE', exitCode: 4})
    for (const missing of LEGACY_TABLES.slice(2)) expect(result.error!.message).toContain(missing)
    expect(result.results).toEqual([expect.objectContaining({name: BASELINE, status: 'failed'})])
    expect(await tablesOf(database)).toEqual(before)
  })

  it('a dry run reports every pending migration and leaves the database as it was', async () => {
    const result = await testMigrator(database).up({dryRun: true})

    expect(result.error).toBeUndefined()
    expect(result.dryRun).toBe(true)
    expect(result.results.map((item) => [item.name, item.status])).toEqual(MIGRATIONS.map((entry) => [entry.name, 'dry-run']))
    expect(result.results[0]!.report).toMatchObject({mode: 'created'})
    expect(await tablesOf(database)).toEqual([])
    expect(await recordsOf(database)).toEqual([])
  })

  it('a migration that throws half-way leaves no record and none of its schema; earlier ones stay', async () => {
    const migrations = [
      tableMigration('0001-first', 'first_table'),
      tableMigration('0002-breaks', 'half_done', {
        afterCreate: async () => {
          throw new Error('boom after CREATE TABLE')
        },
      }),
      tableMigration('0003-never', 'never_table'),
    ]

    const result = await testMigrator(database, {migrations}).up()

    expect(result.error).toMatchObject({code: 'MIGRATION_FAILED', exitCode: 4})
    expect(result.error!.message).toContain('0002-breaks')
    expect(result.error!.message).toContain('boom after CREATE TABLE')
    expect(result.results.map((item) => [item.name, item.status])).toEqual([
      ['0001-first', 'applied'],
      ['0002-breaks', 'failed'],
    ])
    expect(await tablesOf(database)).toEqual(['engage_migrations', 'first_table'])
    expect((await recordsOf(database)).map((record) => record.name)).toEqual(['0001-first'])
  })

  it('stops on an applied migration whose source changed, naming it', async () => {
    const original = tableMigration('0001-a', 'a_table', {source: 'v1'})
    await testMigrator(database, {migrations: [original]}).up()
    const edited = tableMigration('0001-a', 'a_table', {source: 'v2 (edited after it was applied)'})

    const result = await testMigrator(database, {migrations: [edited, tableMigration('0002-b', 'b_table')]}).up()

    expect(result.error).toMatchObject({name: 'MigrationError', code: 'MIGRATION_DRIFT', exitCode: 4})
    expect(result.error!.message).toContain('0001-a was changed after it was applied')
    expect(await tablesOf(database)).not.toContain('b_table')
    const status = await testMigrator(database, {migrations: [edited]}).status()
    expect(status.migrations).toEqual([expect.objectContaining({name: '0001-a', state: 'drifted', drift: 'checksum-changed'})])
  })

  it('stops on a recorded migration that no longer exists in the code, naming it', async () => {
    await testMigrator(database, {migrations: [tableMigration('0001-a', 'a_table'), tableMigration('0002-gone', 'gone')]}).up()

    const migrator = testMigrator(database, {migrations: [tableMigration('0001-a', 'a_table'), tableMigration('0003-new', 'new_table')]})
    const result = await migrator.up()

    expect(result.error).toMatchObject({code: 'MIGRATION_DRIFT'})
    expect(result.error!.message).toContain('0002-gone is recorded as applied but no such migration exists')
    expect(await tablesOf(database)).not.toContain('new_table')
    expect((await migrator.status()).summary).toEqual({applied: 1, pending: 1, drifted: 1})
  })

  it('reverts by step and down to a name, newest first, removing the records', async () => {
    const migrations = ['a', 'b', 'c', 'd'].map((letter, index) => tableMigration(`000${index + 1}-${letter}`, `${letter}_table`))
    const migrator = testMigrator(database, {migrations})
    await migrator.up()

    const one = await migrator.down()
    expect(one.results.map((item) => [item.name, item.status])).toEqual([['0004-d', 'reverted']])
    const two = await migrator.down({step: 2})
    expect(two.results.map((item) => item.name)).toEqual(['0003-c', '0002-b'])
    expect(await tablesOf(database)).toEqual(['a_table', 'engage_migrations'])
    await migrator.up()
    const to = await migrator.down({to: '0002'})
    expect(to.results.map((item) => item.name)).toEqual(['0004-d', '0003-c', '0002-b'])
    expect((await recordsOf(database)).map((record) => record.name)).toEqual(['0001-a'])
    const nothing = await testMigrator(database, {migrations}).down({to: '0003-c'})
    expect(nothing.error).toMatchObject({name: 'UsageError', code: 'MIGRATION_NOT_APPLIED'})
  })

  it('up --to stops at the named migration; an unknown name is a usage error', async () => {
    const migrations = [tableMigration('0001-a', 'a_table'), tableMigration('0002-b', 'b_table')]

    const partial = await testMigrator(database, {migrations}).up({to: '0001-a'})
    const unknown = await testMigrator(database, {migrations}).up({to: '0009-nope'})

    expect(partial.results.map((item) => item.name)).toEqual(['0001-a'])
    expect(unknown.error).toMatchObject({name: 'UsageError', code: 'MIGRATION_UNKNOWN'})
    expect(await tablesOf(database)).toEqual(['a_table', 'engage_migrations'])
  })

  it('refuses to revert the baseline while backend tables hold rows, and allows it when they are empty', async () => {
    const migrator = testMigrator(database, {migrations: [MIGRATIONS[0]!]})
    await migrator.up()
    await seedLegacyRows(database)

    const refused = await migrator.down()
    expect(refused.error).toMatchObject({code: 'MIGRATION_DOWN_REFUSED', exitCode: 4})
    expect(refused.error!.message).toContain('tenants (1 row)')
    expect(await tablesOf(database)).toEqual([...LEGACY_TABLES, 'engage_migrations'].sort())

    for (const table of [...LEGACY_TABLES].reverse()) await sql`DELETE FROM ${sql.table(table)}`.execute(database.db)
    const allowed = await migrator.down()
    expect(allowed.error).toBeUndefined()
    expect(await tablesOf(database)).toEqual(['engage_migrations'])
    expect(await recordsOf(database)).toEqual([])
  })

  it('fails with DATABASE_BUSY, changing nothing, while another writer holds the lock', async () => {
    const release = await holdWriteLock(testDb, database)
    const impatient = dialect === 'sqlite' ? await openDatabase(testDb.url, {busyTimeoutMs: 200}) : database
    try {
      const result = await testMigrator(impatient, {migrations: [tableMigration('0001-a', 'a_table')], lockTimeoutMs: 300}).up()

      expect(result.error).toMatchObject({name: 'DatabaseError', code: 'DATABASE_BUSY', exitCode: 3})
    } finally {
      await release()
      if (impatient !== database) await impatient.close()
    }
    expect(await tablesOf(database)).toEqual([])
  })

  it('two runs at once apply each migration exactly once (the second waits, then skips or finds nothing)', async () => {
    const [first, second] = await Promise.all([runRunner(testDb.url, 'sleep'), runRunner(testDb.url, 'sleep')])

    expect([first.code, second.code]).toEqual([0, 0])
    const statuses = [...first.results, ...second.results].map((item) => item.status).sort()
    expect(statuses.filter((status) => status === 'applied')).toHaveLength(1)
    expect(statuses.filter((status) => status !== 'applied' && status !== 'skipped')).toEqual([])
    expect((await recordsOf(database)).map((record) => record.name)).toEqual(['0001-slow-table'])
    expect(await dumpTables(database.db, ['slow_table'])).toEqual({slow_table: [{id: 1, note: 'inside'}]})
  })

  it('a run SIGKILLed inside a migration leaves the pre-migration state; the next run completes', async () => {
    const killed = await runRunner(testDb.url, 'hang', {killAtMarker: true})
    expect(killed.signal).toBe('SIGKILL')

    expect(await tablesOf(database)).toEqual([])
    expect(await recordsOf(database)).toEqual([])
    const next = await runRunner(testDb.url, 'fast')
    expect(next.code).toBe(0)
    expect(next.results).toEqual([expect.objectContaining({name: '0001-slow-table', status: 'applied'})])
    expect((await recordsOf(database)).map((record) => record.name)).toEqual(['0001-slow-table'])
  })
})

describe('migration engine on postgres, same process', () => {
  it('two migrators on separate pools serialise on the advisory lock', async () => {
    const testDb = await createTestDatabase('postgres')
    try {
      const [one, two] = [await testDb.open(), await testDb.open()]
      const migrations = [tableMigration('0001-a', 'a_table'), tableMigration('0002-b', 'b_table')]

      const results = await Promise.all([testMigrator(one, {migrations}).up(), testMigrator(two, {migrations}).up()])

      expect(results.map((result) => result.error)).toEqual([undefined, undefined])
      const applied = results.flatMap((result) => result.results).filter((item) => item.status === 'applied')
      expect(applied.map((item) => item.name).sort()).toEqual(['0001-a', '0002-b'])
      expect((await recordsOf(one)).map((record) => record.name)).toEqual(['0001-a', '0002-b'])
    } finally {
      await testDb.dispose()
    }
  })
})

async function seedLegacyRows(database: Database): Promise<void> {
  const at = '2026-03-01T12:00:00.000Z'
  await database.db.insertInto('tenants').values({id: 't1', slug: 'acme', name: 'Acme', created_at: at}).execute()
  await database.db
    .insertInto('tenant_channel_settings')
    .values({tenant_id: 't1', channel: 'sms', provider: 'twilio', is_enabled: 1, sender: '+15550100', created_at: at, updated_at: at})
    .execute()
  await database.db
    .insertInto('tenant_channel_credentials_v2')
    .values({tenant_id: 't1', channel: 'sms', provider: 'twilio', credentials_encrypted: '00'.repeat(16) + ':abcd', created_at: at, updated_at: at})
    .execute()
  await database.db.insertInto('contacts').values({id: 'c1', tenant_id: 't1', phone: '+15550101', created_at: at}).execute()
  await database.db.insertInto('campaigns').values({id: 'k1', tenant_id: 't1', name: 'Hi', channel: 'sms', body: 'Hello', created_at: at}).execute()
  await database.db
    .insertInto('messages')
    .values({id: 'm1', tenant_id: 't1', campaign_id: 'k1', contact_id: 'c1', channel: 'sms', to_address: '+15550101', created_at: at, updated_at: at})
    .execute()
  await database.db.insertInto('message_status_events').values({message_id: 'm1', status: 'sent', created_at: at}).execute()
}

/** Another writer: SQLite `BEGIN IMMEDIATE` on a second connection; PostgreSQL: the engine's advisory lock. */
async function holdWriteLock(testDb: TestDatabase, database: Database): Promise<() => Promise<void>> {
  if (database.dialect === 'sqlite') {
    const holder = new BetterSqlite3(database.target.dialect === 'sqlite' ? database.target.path : '')
    holder.exec('BEGIN IMMEDIATE')
    return async () => {
      holder.exec('ROLLBACK')
      holder.close()
    }
  }
  const client = new pg.Client({connectionString: testDb.url})
  await client.connect()
  await client.query('SELECT pg_advisory_lock($1::bigint)', [MIGRATION_LOCK_KEY])
  return async () => {
    await client.end()
  }
}

interface RunnerOutcome {
  code: number | null
  signal: NodeJS.Signals | null
  results: {name: string; status: string}[]
  stderr: string
}

/** Runs test/support/migrate-runner.ts in its own process; optionally SIGKILLs it once it is inside the migration. */
function runRunner(url: string, mode: 'hang' | 'sleep' | 'fast', options: {killAtMarker?: boolean} = {}): Promise<RunnerOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'test/support/migrate-runner.ts'), url, mode], {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => {
      stderr += chunk
      if (options.killAtMarker && stderr.includes('MIGRATION_INSIDE')) child.kill('SIGKILL')
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      const line = stdout.trim().split('\n').pop()
      resolve({code, signal, stderr, results: line ? (JSON.parse(line) as {results: RunnerOutcome['results']}).results : []})
    })
  })
}
