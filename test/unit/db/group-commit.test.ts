import {sql} from 'kysely'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {inWriteTransaction, openDatabase, type Database} from '../../../src/db/database.js'
import {GroupCommit} from '../../../src/db/group-commit.js'
import {PreparedQuery} from '../../../src/db/prepared-query.js'
import {runSteps, runWriteSteps, step, type QuerySteps} from '../../../src/db/query-steps.js'
import {createTestDatabase, DIALECTS, type TestDatabase} from '../../support/databases.js'
import {holdSqliteWriteLock} from '../../support/sqlite-lock-holder.js'

const INSERT_NOTE = new PreparedQuery<{id: number; body: string}>((db, param) => db.insertInto('notes').values({id: param('id'), body: param('body')}))
const NOTE_BODY = new PreparedQuery<{id: number}, {body: string}>((db, param) => db.selectFrom('notes').select('body').where('id', '=', param('id')))

/** Inserts a note and reads it back in the same transaction. */
function* writeNote(id: number, body: string): QuerySteps<string> {
  yield* step(INSERT_NOTE, {id, body})
  return (yield* step(NOTE_BODY, {id})).rows[0]!.body
}

describe.each(DIALECTS)('prepared queries, query steps and group commit on %s', (dialect) => {
  let testDatabase: TestDatabase
  let database: Database
  let observer: Database

  beforeEach(async () => {
    testDatabase = await createTestDatabase(dialect)
    database = await testDatabase.open({create: true})
    await sql`CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)`.execute(database.db)
    // A second connection sees only what was committed.
    observer = await testDatabase.open()
  })
  afterEach(async () => {
    await testDatabase.dispose()
  })

  const committedNotes = async () => (await observer.db.selectFrom('notes').select(['id', 'body']).orderBy('id').execute()).map((row) => [Number(row.id), row.body])

  it('a prepared query runs again with new parameters, awaited or in a write transaction', async () => {
    const awaited = await inWriteTransaction(database, (trx) => runSteps(trx, writeNote(1, 'one')))
    const written = await runWriteSteps(database, () => writeNote(2, 'two'))

    expect([awaited, written]).toEqual(['one', 'two'])
    expect(await committedNotes()).toEqual([[1, 'one'], [2, 'two']])
  })

  it('a unit resolves only once its writes are committed', async () => {
    const group = new GroupCommit(database)

    const committedOnResolve = await Promise.all([1, 2, 3].map((id) => group.run(() => writeNote(id, `n${id}`)).then(async (body) => [body, await committedNotes()] as const)))

    committedOnResolve.forEach(([body, committed], index) => {
      expect(body).toBe(`n${index + 1}`)
      expect(committed).toContainEqual([index + 1, body])
    })
  })

  it('a unit that throws rejects alone: the others of its group are committed', async () => {
    const group = new GroupCommit(database)

    const settled = await Promise.allSettled([group.run(() => writeNote(1, 'a')), group.run(() => writeNote(1, 'duplicate key')), group.run(() => writeNote(2, 'b'))])

    expect(settled.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect(await committedNotes()).toEqual([[1, 'a'], [2, 'b']])
  })

  it.runIf(dialect === 'sqlite')('a group never joins a transaction another caller holds open on the connection', async () => {
    const group = new GroupCommit(database)
    let unitDone: Promise<string> | undefined

    const outer = inWriteTransaction(database, async (trx) => {
      await runSteps(trx, writeNote(10, 'rolled back'))
      unitDone = group.run(() => writeNote(11, 'own transaction'))
      // Let the group's turn come while this transaction is still open, then fail it.
      await new Promise((resolve) => setImmediate(resolve))
      throw new Error('roll back the outer transaction')
    })

    await expect(outer).rejects.toThrow('roll back the outer transaction')
    expect(await unitDone).toBe('own transaction')
    expect(await committedNotes()).toEqual([[11, 'own transaction']])
  })

  it.runIf(dialect === 'sqlite')('when the write lock stays busy past the timeout, the whole group rejects at once, having written nothing', async () => {
    const impatient = await openDatabase(testDatabase.url, {busyTimeoutMs: 200})
    const holder = await holdSqliteWriteLock(testDatabase.dir + '/engage.db', 'wal')
    try {
      const group = new GroupCommit(impatient)

      const settled = await Promise.allSettled([1, 2, 3, 4, 5].map((id) => group.run(() => writeNote(id, 'x'))))
      const reasons = settled.map((result) => (result.status === 'rejected' ? result.reason : undefined))

      expect(reasons.every((reason) => /locked|busy/i.test(String(reason)))).toBe(true)
      // One attempt at the lock for the group (one error shared), not one wait per unit.
      expect(new Set(reasons).size).toBe(1)
    } finally {
      await holder.release()
      await impatient.close()
    }
    expect(await committedNotes()).toEqual([])
  })
})
