import {afterEach, describe, expect, it} from 'vitest'
import {rowsEncodingFor} from '../../src/channel-settings/consolidation/computed-columns.js'
import {CryptoPool} from '../../src/channel-settings/consolidation/crypto-pool.js'
import {loadPlan} from '../../src/channel-settings/consolidation/load.js'
import {PageLoader} from '../../src/channel-settings/consolidation/page-loader.js'
import {nextTableId} from '../../src/channel-settings/consolidation/state.js'
import {TABLES} from '../../src/channel-settings/consolidation/types.js'
import {parseEncryptionKey} from '../../src/crypto/encryption-key.js'
import type {Database} from '../../src/db/database.js'
import {createTestDatabase, DIALECTS, type TestDatabase} from '../support/databases.js'
import {generateLegacyDatabase} from '../support/legacy-generator.js'

const ROWS = 2000

describe.each(DIALECTS)('0002 page loader on %s', (dialect) => {
  let testDb: TestDatabase
  let database: Database
  let pool: CryptoPool | undefined
  afterEach(async () => {
    await pool?.close()
    pool = undefined
    await database?.close()
    await testDb?.dispose()
  })

  /** Every page of the generated database through the pipeline, with `before` rows decrypted before the plan is sent. */
  async function convertAll(key: string, before: number) {
    pool = new CryptoPool(parseEncryptionKey(key), 2)
    const loader = new PageLoader(database.db, dialect, pool)
    await loader.loadRows(before)
    const firstCreatedId = await nextTableId(database.db, dialect, TABLES.settings)
    await pool.broadcast({task: 'plan', page: 0, plan: await loadPlan(database.db, dialect), firstCreatedId, encoding: rowsEncodingFor(dialect)})
    loader.startConverting()
    const pages = []
    for (let index = 0; ; index++) {
      const page = await loader.page(index, 2)
      if (!page) break
      const converted = await page.converted
      pages.push({...page.rows, counts: converted.counts, failures: converted.failures, problems: converted.problems})
      loader.release(index)
    }
    await pool.close()
    pool = undefined
    return pages
  }

  it('converts the pages decrypted before the plan exactly as those loaded after it, in id order, every row once', async () => {
    testDb = await createTestDatabase(dialect)
    database = await testDb.open({create: true})
    const generated = await generateLegacyDatabase(database, {tenants: 1000, v2Rows: ROWS})

    // 600 rows: the first two pages (256 and 512 rows) are decrypted ahead, the other two converted as they load.
    const mixed = await convertAll(generated.encryptionKey, 600)
    const none = await convertAll(generated.encryptionKey, 0)
    const all = await convertAll(generated.encryptionKey, ROWS)

    expect(mixed.map((page) => page.rows)).toEqual([256, 512, 1024, ROWS - 1792])
    for (let index = 1; index < mixed.length; index++) expect(mixed[index]!.first).toBeGreaterThan(mixed[index - 1]!.last)
    const converted = mixed.reduce((sum, page) => sum + Object.values(page.counts.byReason).reduce((a, b) => a + b, 0), 0)
    expect(converted).toBe(ROWS)
    expect(mixed.flatMap((page) => page.problems)).toEqual([])
    expect(mixed).toEqual(none)
    expect(mixed).toEqual(all)
  })
})
