import {sql, type Kysely} from 'kysely'
import {afterEach, describe, expect, it} from 'vitest'
import {withMigrationTuning} from '../../src/channel-settings/consolidation/session-tuning.js'
import {inWriteTransaction, type Dialect} from '../../src/db/database.js'
import {createTestDatabase, DIALECTS, type TestDatabase} from '../support/databases.js'

/** What 0002's tuning changes, read on the migration's connection. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function tuned(dialect: Dialect, trx: Kysely<any>): Promise<string> {
  if (dialect === 'sqlite') {
    const {rows} = await sql<{cache_size: number}>`PRAGMA cache_size`.execute(trx)
    return String(rows[0]!.cache_size)
  }
  const {rows} = await sql<{value: string}>`SELECT current_setting('enable_hashjoin') AS value`.execute(trx)
  return rows[0]!.value
}

describe.each(DIALECTS)('0002 session tuning on %s', (dialect) => {
  let testDb: TestDatabase
  afterEach(() => testDb?.dispose())

  it('applies for the page work only and puts the previous setting back (a dry run shares its transaction)', async () => {
    testDb = await createTestDatabase(dialect)
    const database = await testDb.open({create: true})
    const seen = await inWriteTransaction(database, async (trx) => {
      const before = await tuned(dialect, trx)
      const during = await withMigrationTuning(trx, dialect, () => tuned(dialect, trx))
      const after = await tuned(dialect, trx)
      return {before, during, after}
    })
    expect(seen.during).toBe(dialect === 'sqlite' ? '-262144' : 'off')
    expect(seen.during).not.toBe(seen.before)
    expect(seen.after).toBe(seen.before)
  })
})
