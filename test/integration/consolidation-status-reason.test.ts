import {sql} from 'kysely'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {inWriteTransaction} from '../../src/db/database.js'
import {createTestDatabase, DIALECTS, type TestDatabase} from '../support/databases.js'
import {buildLegacyFixture, dumpLegacyTables, type LegacyFixture} from '../support/legacy-fixture.js'
import {runCli} from '../support/run-cli.js'
import {rebuildSqliteTable} from '../../migrations/0003-status-reason-and-provider-message-index.js'

const MIGRATION = '0003-status-reason-and-provider-message-index'

describe.each(DIALECTS)('0003 status_reason + provider_message_id index on %s', (dialect) => {
  let testDatabase: TestDatabase
  let fixture: LegacyFixture
  beforeEach(async () => {
    testDatabase = await createTestDatabase(dialect)
    fixture = await buildLegacyFixture(testDatabase)
  })
  afterEach(() => testDatabase.dispose())

  const migrate = (...args: string[]) =>
    runCli(['migrate', ...args, '--database-url', testDatabase.url], {env: {ENCRYPTION_KEY: fixture.encryptionKey}})

  it('adds the column and the index; down restores the tables exactly (sqlite_master text included)', async () => {
    expect((await migrate('up', '--to', '0002')).code).toBe(0)
    let database = await testDatabase.open()
    const before = await dumpLegacyTables(database)
    await database.close()

    const up = await migrate('up')
    database = await testDatabase.open()
    await database.db.insertInto('message_status_events').values({message_id: 'msg_1', status: 'bounced', status_reason: 'Permanent/General', created_at: '2026-03-01T00:00:00.000Z'}).execute()
    const reason = await database.db.selectFrom('message_status_events').select('status_reason').where('status', '=', 'bounced').executeTakeFirstOrThrow()
    await database.db.deleteFrom('message_status_events').where('status', '=', 'bounced').execute()
    const indexes = dialect === 'sqlite'
      ? (await sql<{name: string}>`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'messages'`.execute(database.db)).rows
      : (await sql<{name: string}>`SELECT indexname AS name FROM pg_indexes WHERE tablename = 'messages'`.execute(database.db)).rows
    await database.close()
    const down = await migrate('down', '--to', MIGRATION, '--yes')
    database = await testDatabase.open()
    const after = await dumpLegacyTables(database)
    await database.close()

    expect(up.code, up.stderr).toBe(0)
    expect(reason.status_reason).toBe('Permanent/General')
    expect(indexes.map((row) => row.name)).toContain('idx_messages_provider_message_id')
    expect(down.code, down.stderr).toBe(0)
    // The inserted-then-deleted event moved the AUTOINCREMENT position; everything else is as before.
    expect(after.schema).toEqual(before.schema)
    expect(after.rows).toEqual(before.rows)
  })

  it.runIf(dialect === 'sqlite')('the rebuild fallback keeps rows, indexes, the sequence and the exact DDL text', async () => {
    const database = await testDatabase.open()
    const before = await dumpLegacyTables(database)
    const {rows} = await sql<{sql: string}>`SELECT sql FROM sqlite_master WHERE name = 'message_status_events'`.execute(database.db)

    await inWriteTransaction(database, (trx) => rebuildSqliteTable(trx, 'message_status_events', rows[0]!.sql))

    const after = await dumpLegacyTables(database)
    await database.close()
    expect(after).toEqual(before)
  })
})
