import {sql} from 'kysely'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {silentLogger} from '../../src/cli/logger.js'
import {Settings} from '../../src/config/env.js'
import type {Database} from '../../src/db/database.js'
import {createMigrator} from '../../src/migrate/migrator.js'
import {listTables} from '../../src/migrate/schema-inspect.js'
import {createTestDatabase, DIALECTS, type TestDatabase} from '../support/databases.js'
import {buildLegacyFixture, dumpLegacyTables, type LegacyFixture} from '../support/legacy-fixture.js'

const MIGRATION = '0005-send-pipeline-state'

describe.each(DIALECTS)('migration 0005 send pipeline state on %s', (dialect) => {
  let testDatabase: TestDatabase
  let fixture: LegacyFixture
  let database: Database
  const migrator = () => createMigrator({database, settings: new Settings({ENCRYPTION_KEY: fixture.encryptionKey}, {}), logger: silentLogger})

  beforeEach(async () => {
    testDatabase = await createTestDatabase(dialect)
    fixture = await buildLegacyFixture(testDatabase)
    database = await testDatabase.open()
  })
  afterEach(() => testDatabase.dispose())

  it('adds the columns and table, marks history delivered; up/down/up leaves the legacy tables exactly as before', async () => {
    expect((await migrator().up({to: '0004-local-message-queue'})).error).toBeUndefined()
    const before = await dumpLegacyTables(database)
    const historyCount = Number((await sql<{n: string | number}>`SELECT COUNT(*) AS n FROM message_status_events`.execute(database.db)).rows[0]!.n)

    const up = await migrator().up({to: MIGRATION})
    const events = await database.db.selectFrom('message_status_events').select(['created_at', 'backend_delivered_at', 'applied', 'backend_attempts']).execute()
    const message = await database.db.selectFrom('messages').select(['send_claim_id', 'send_claimed_at', 'sent_at', 'status_reason']).executeTakeFirst()
    const tablesUp = await listTables(database.db, dialect)
    const down = await migrator().down({to: MIGRATION})
    const after = await dumpLegacyTables(database)
    const again = await migrator().up({to: MIGRATION})

    expect(up.error).toBeUndefined()
    expect(up.results.map((r) => [r.name, r.status])).toEqual([[MIGRATION, 'applied']])
    expect(historyCount).toBeGreaterThan(0)
    expect(events).toHaveLength(historyCount)
    for (const event of events) {
      expect(event.backend_delivered_at).toBe(event.created_at)
      expect(Number(event.applied)).toBe(1)
      expect(Number(event.backend_attempts)).toBe(0)
    }
    expect(message).toEqual({send_claim_id: null, send_claimed_at: null, sent_at: null, status_reason: null})
    expect(tablesUp).toContain('pending_status_callbacks')
    expect(down.error).toBeUndefined()
    expect(after).toEqual(before)
    expect(again.error).toBeUndefined()
  })

  it('down refuses while a kept callback is unapplied, and goes through once it is applied', async () => {
    expect((await migrator().up({to: MIGRATION})).error).toBeUndefined()
    const inserted = await database.db
      .insertInto('pending_status_callbacks')
      .values({provider_message_id: 'SM0001', tenant_id: 't1', status: 'delivered', params_json: '{}', received_at: '2026-01-01T00:00:00.000Z'})
      .returning('id')
      .executeTakeFirstOrThrow()

    const refused = await migrator().down({to: MIGRATION})
    const tablesAfterRefusal = await listTables(database.db, dialect)
    await database.db.updateTable('pending_status_callbacks').set({applied_at: '2026-01-01T00:00:01.000Z'}).where('id', '=', inserted.id).execute()
    const reverted = await migrator().down({to: MIGRATION})

    expect(refused.error).toMatchObject({name: 'MigrationError', code: 'PENDING_CALLBACKS_NOT_APPLIED', details: {unapplied: 1}})
    expect(tablesAfterRefusal).toContain('pending_status_callbacks')
    expect(reverted.error).toBeUndefined()
    expect(await listTables(database.db, dialect)).not.toContain('pending_status_callbacks')
  })

  it.runIf(dialect === 'sqlite')('down stops, changing nothing, when a legacy table was altered after up', async () => {
    expect((await migrator().up({to: MIGRATION})).error).toBeUndefined()
    await sql`ALTER TABLE messages ADD COLUMN someone_elses TEXT`.execute(database.db)

    const refused = await migrator().down({to: MIGRATION})

    expect(refused.error).toMatchObject({code: 'MIGRATION_DEFINITION_CHANGED'})
    expect(await listTables(database.db, dialect)).toContain('pending_status_callbacks')
  })
})
