import {sql, type Kysely} from 'kysely'
import {afterEach, describe, expect, it} from 'vitest'
import {withConstraintsRebuilt} from '../../src/channel-settings/consolidation/rebuilt-constraints.js'
import {inWriteTransaction, type Database} from '../../src/db/database.js'
import {createTestDatabase, type TestDatabase} from '../support/databases.js'

/* eslint-disable @typescript-eslint/no-explicit-any */

/** The constraints of `table` as PostgreSQL describes them, by name. */
async function constraintsOf(db: Kysely<any>, table: string): Promise<Record<string, string>> {
  const {rows} = await sql<{name: string; definition: string}>`SELECT conname AS name, pg_get_constraintdef(oid) AS definition
    FROM pg_constraint WHERE conrelid = CAST(${table} AS regclass) ORDER BY conname`.execute(db)
  return Object.fromEntries(rows.map((row) => [row.name, row.definition]))
}

/** A parent and a child table shaped like tenants and tenant_channel_settings, with an unusual foreign key. */
async function createTables(database: Database): Promise<void> {
  await sql`CREATE TABLE parent (id TEXT PRIMARY KEY)`.execute(database.db)
  await sql`CREATE TABLE child (
    id INTEGER PRIMARY KEY,
    parent_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    CONSTRAINT child_parent_fkey FOREIGN KEY (parent_id) REFERENCES parent(id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    CONSTRAINT child_parent_channel_key UNIQUE (parent_id, channel),
    CONSTRAINT child_channel_check CHECK (channel <> '')
  )`.execute(database.db)
  await sql`INSERT INTO parent (id) VALUES ('a'), ('b')`.execute(database.db)
}

const MANY = {legacyRows: 10, tableRows: 1}

describe('0002 rebuilt constraints on postgres', () => {
  let testDb: TestDatabase
  afterEach(() => testDb?.dispose())

  async function open(): Promise<Database> {
    testDb = await createTestDatabase('postgres')
    const database = await testDb.open()
    await createTables(database)
    return database
  }

  it('drops the foreign keys and unique constraints for the work and adds them back exactly, under their names', async () => {
    const database = await open()
    const before = await constraintsOf(database.db, 'child')
    const during = await inWriteTransaction(database, (trx) =>
      withConstraintsRebuilt(trx, 'postgres', 'child', MANY, async () => {
        await sql`INSERT INTO child (id, parent_id, channel) VALUES (1, 'a', 'sms'), (2, 'b', 'sms')`.execute(trx)
        return constraintsOf(trx, 'child')
      }),
    )
    expect(Object.keys(during).sort()).toEqual(['child_channel_check', 'child_pkey'])
    expect(await constraintsOf(database.db, 'child')).toEqual(before)
    // The constraints work again: a duplicate and a missing parent are refused.
    await expect(sql`INSERT INTO child (id, parent_id, channel) VALUES (3, 'a', 'sms')`.execute(database.db)).rejects.toThrow(/child_parent_channel_key/)
    await expect(sql`INSERT INTO child (id, parent_id, channel) VALUES (4, 'zz', 'email')`.execute(database.db)).rejects.toThrow(/child_parent_fkey/)
  })

  it('fails when a row written meanwhile breaks a constraint, and the rollback gives the constraints back with no row', async () => {
    const database = await open()
    const before = await constraintsOf(database.db, 'child')
    const attempt = inWriteTransaction(database, (trx) =>
      withConstraintsRebuilt(trx, 'postgres', 'child', MANY, async () => {
        await sql`INSERT INTO child (id, parent_id, channel) VALUES (1, 'a', 'sms'), (2, 'a', 'sms')`.execute(trx)
      }),
    )
    await expect(attempt).rejects.toThrow(/child_parent_channel_key/)
    expect(await constraintsOf(database.db, 'child')).toEqual(before)
    const {rows} = await sql<{n: string}>`SELECT COUNT(*) AS n FROM child`.execute(database.db)
    expect(Number(rows[0]!.n)).toBe(0)
  })

  it('leaves the constraints in place when the table holds more rows than are written, or none are', async () => {
    const database = await open()
    const before = await constraintsOf(database.db, 'child')
    for (const rows of [{legacyRows: 1, tableRows: 2}, {legacyRows: 0, tableRows: 0}]) {
      const during = await inWriteTransaction(database, (trx) => withConstraintsRebuilt(trx, 'postgres', 'child', rows, () => constraintsOf(trx, 'child')))
      expect(during).toEqual(before)
    }
  })

  it('keeps a unique constraint that another table references, and still drops the foreign keys', async () => {
    const database = await open()
    await sql`CREATE TABLE grandchild (parent_id TEXT, channel TEXT, FOREIGN KEY (parent_id, channel) REFERENCES child (parent_id, channel))`.execute(database.db)
    const before = await constraintsOf(database.db, 'child')
    const during = await inWriteTransaction(database, (trx) => withConstraintsRebuilt(trx, 'postgres', 'child', MANY, () => constraintsOf(trx, 'child')))
    expect(Object.keys(during).sort()).toEqual(['child_channel_check', 'child_parent_channel_key', 'child_pkey'])
    expect(await constraintsOf(database.db, 'child')).toEqual(before)
  })

  it('does nothing on SQLite', async () => {
    testDb = await createTestDatabase('sqlite')
    const database = await testDb.open({create: true})
    let ran = false
    await inWriteTransaction(database, (trx) =>
      withConstraintsRebuilt(trx, 'sqlite', 'child', MANY, async () => {
        ran = true
      }),
    )
    expect(ran).toBe(true)
  })
})
