import {spawnSync} from 'node:child_process'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {MIGRATIONS} from '../../migrations/index.js'
import {createLogger} from '../../src/cli/logger.js'
import {Settings} from '../../src/config/env.js'
import type {Database} from '../../src/db/database.js'
import {createTestDatabase, DIALECTS, type TestDatabase} from '../support/databases.js'
import {buildLegacyFixture, type LegacyFixture} from '../support/legacy-fixture.js'
import {testMigrator} from '../support/migrate-fixtures.js'
import {PROJECT_ROOT} from '../support/run-cli.js'

const CONSOLIDATION = '0002-channel-settings-consolidation'

/**
 * Another writer (the backend still running) tries to add a credential row
 * while 0002 is half-way: between loading the legacy rows and dropping the
 * table. It runs in its own process, started synchronously from inside the
 * migration, so the migration's transaction is open and paused while it tries.
 * Prints `inserted` or `blocked <code>`.
 */
const WRITER = `
const [dialect, url] = process.argv.slice(1)
const row = ['ten_acme', 'sms', 'twilio', '00000000000000000000000000000000:00000000000000000000000000000000', '2026-04-01T00:00:00.000Z']
try {
  if (dialect === 'sqlite') {
    const {default: Database} = await import('better-sqlite3')
    const db = new Database(url.slice('sqlite:'.length), {timeout: 300})
    db.prepare('INSERT INTO tenant_channel_credentials_v2 (tenant_id, channel, provider, credentials_encrypted, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)').run(...row, row[4])
    db.close()
  } else {
    const {default: pg} = await import('pg')
    const client = new pg.Client({connectionString: url})
    await client.connect()
    try {
      await client.query("SET lock_timeout = '500ms'")
      await client.query('INSERT INTO tenant_channel_credentials_v2 (tenant_id, channel, provider, credentials_encrypted, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)', row)
    } finally {
      await client.end()
    }
  }
  console.log('inserted')
} catch (error) {
  console.log('blocked ' + error.code)
}
`

function tryConcurrentInsert(dialect: string, url: string): string {
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', WRITER, dialect, url], {cwd: PROJECT_ROOT, encoding: 'utf8', timeout: 30_000})
  return `${result.stdout.trim()}${result.stderr.trim() ? ` (stderr: ${result.stderr.trim()})` : ''}`
}

describe.each(DIALECTS)('channel-settings consolidation (0002) against a concurrent writer on %s', (dialect) => {
  let testDatabase: TestDatabase
  let fixture: LegacyFixture
  let database: Database

  beforeEach(async () => {
    testDatabase = await createTestDatabase(dialect)
    fixture = await buildLegacyFixture(testDatabase)
    database = await testDatabase.open()
  })
  afterEach(async () => {
    await testDatabase.dispose()
  })

  it('keeps other writers out of the legacy table until it commits, so no credential row is dropped unseen', async () => {
    const settings = new Settings({ENCRYPTION_KEY: fixture.encryptionKey, ENGAGE_OPERATOR: 'concurrency-test'}, {})
    await testMigrator(database, {settings}).up({to: MIGRATIONS[0]!.name})
    const attempts: string[] = []
    // The first progress line comes after the rows were loaded and written, before the legacy table is dropped.
    const logger = createLogger('debug', (line) => {
      if (attempts.length === 0 && line.includes('consolidation: converted')) attempts.push(tryConcurrentInsert(dialect, testDatabase.url))
    })

    const result = await testMigrator(database, {settings, logger}).up({to: CONSOLIDATION})

    expect(result.error).toBeUndefined()
    expect(result.results).toEqual([expect.objectContaining({name: CONSOLIDATION, status: 'applied'})])
    expect(attempts).toHaveLength(1)
    expect(attempts[0]).toMatch(dialect === 'sqlite' ? /^blocked SQLITE_BUSY$/ : /^blocked 55P03$/)
    const archived = await database.db.selectFrom('tenant_channel_credentials_archive').select('id').execute()
    expect(archived).toHaveLength(fixture.credentials.length)
  })
})
