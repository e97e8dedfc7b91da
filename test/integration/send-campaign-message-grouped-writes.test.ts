import {sql} from 'kysely'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Database} from '../../src/db/database.js'
import {GroupedWrites} from '../../src/pipeline/send/grouped-writes.js'
import {DIALECTS, type TestDatabase} from '../support/databases.js'
import {migratedDatabase} from '../support/seed-fixtures.js'

/** GroupedWrites, which SendCampaignMessage records provider acceptances through, on a real database of each dialect. */
describe.each(DIALECTS)('GroupedWrites over %s', (dialect) => {
  let testDatabase: TestDatabase
  let database: Database

  beforeAll(async () => {
    testDatabase = await migratedDatabase(dialect)
    database = await testDatabase.open()
    await sql`CREATE TABLE group_commit_probe (id TEXT PRIMARY KEY, note TEXT NOT NULL)`.execute(database.db)
  })

  afterAll(async () => {
    await testDatabase?.dispose()
  })

  const stored = async () => {
    const rows = await database.db.selectFrom('group_commit_probe').select(['id']).orderBy('id').execute()
    return rows.map((row) => String(row.id))
  }

  it('writes items submitted together in one transaction, in key order, and resolves each once it is committed', async () => {
    const transactions = new Set<unknown>()
    const order: string[] = []
    const group = new GroupedWrites<string, string>(
      database,
      async (trx, id) => {
        transactions.add(trx)
        order.push(id)
        await trx.insertInto('group_commit_probe').values({id, note: 'together'}).execute()
        return `wrote ${id}`
      },
      (id) => id,
    )
    const results = await Promise.all(['t-c', 't-a', 't-b'].map(async (id) => {
      const result = await group.submit(id)
      // Committed by the time submit resolves: another connection (or the next query) sees the row.
      const visible = await database.db.selectFrom('group_commit_probe').select('id').where('id', '=', id).executeTakeFirst()
      return {result, visible: visible !== undefined}
    }))

    expect(results).toEqual([
      {result: 'wrote t-c', visible: true},
      {result: 'wrote t-a', visible: true},
      {result: 'wrote t-b', visible: true},
    ])
    expect(transactions.size).toBe(1)
    expect(order).toEqual(['t-a', 't-b', 't-c'])
  })

  it('fails only the bad item of a group: the others are written on their own and resolve', async () => {
    const group = new GroupedWrites<string, string>(
      database,
      async (trx, id) => {
        await trx.insertInto('group_commit_probe').values({id, note: 'alone'}).execute()
        if (id === 'f-bad') throw new Error('this item cannot be written')
        return id
      },
      (id) => id,
    )
    const outcomes = await Promise.allSettled(['f-one', 'f-bad', 'f-two'].map((id) => group.submit(id)))

    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect((outcomes[1] as PromiseRejectedResult).reason.message).toBe('this item cannot be written')
    const rows = await stored()
    expect(rows).toContain('f-one')
    expect(rows).toContain('f-two')
    // The bad item's own insert was rolled back with its transaction.
    expect(rows).not.toContain('f-bad')
  })

  it('forms the next group from items submitted while a group is being written', async () => {
    const groups = new Map<unknown, string[]>()
    const group = new GroupedWrites<string, void>(
      database,
      async (trx, id) => {
        groups.set(trx, [...(groups.get(trx) ?? []), id])
        await trx.insertInto('group_commit_probe').values({id, note: 'waves'}).execute()
      },
      (id) => id,
    )
    const first = Promise.all([group.submit('w-1'), group.submit('w-2')])
    // Submitted after the first group started (it starts on the next turn of the event loop).
    await new Promise((resolve) => setImmediate(resolve))
    const second = Promise.all([group.submit('w-3'), group.submit('w-4')])
    await Promise.all([first, second])

    // Two groups; on PostgreSQL they may be written side by side, so their order is not fixed.
    expect([...groups.values()].sort()).toEqual([
      ['w-1', 'w-2'],
      ['w-3', 'w-4'],
    ])
    expect(await stored()).toEqual(expect.arrayContaining(['w-1', 'w-2', 'w-3', 'w-4']))
  })
})
