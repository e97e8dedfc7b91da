import {parseEncryptionKey} from '../../crypto/encryption-key.js'
import {MigrationError} from '../../errors/engage-error.js'
import type {Logger} from '../../cli/logger.js'
import type {Dialect} from '../../db/database.js'
import type {MigrationContext} from '../../migrate/types.js'
import {tableExists} from '../../migrate/schema-inspect.js'
import type {Kysely} from 'kysely'
import {CONVERT_BATCH_ROWS, ROWS_DECRYPTED_BEFORE_PLAN} from './batches.js'
import {rowsEncodingFor} from './computed-columns.js'
import {CryptoPool} from './crypto-pool.js'
import {assertDecryptable, type DecryptFailure} from './decrypt-legacy.js'
import {countLegacyRows, countSettingsRows, loadPlan} from './load.js'
import {lockConsolidationTables, UP_TABLES} from './locks.js'
import {PageLoader} from './page-loader.js'
import {addArchivePrimaryKey, addSettingsColumns, createArchiveTable, createStateTable, dropTable} from './schema.js'
import {consolidationReport, type BatchCounts} from './select-live-rows.js'
import {withConstraintsRebuilt} from './rebuilt-constraints.js'
import {withMigrationTuning} from './session-tuning.js'
import {
  advanceSequenceToMaxId,
  captureLegacyState,
  makeSequenceTransactional,
  nextTableId,
  readSequence,
  saveState,
  stateKeys,
} from './state.js'
import {TABLES, type ConsolidationReport} from './types.js'
import {TEXT_NEEDED} from './check-stored.js'
import {assertVerified, readBackPage, type VerifyProblem} from './verify.js'
import type {ConvertedPage} from './worker-tasks.js'
import {releaseLegacyPage} from './write.js'
import {writePageReadingBack} from './write-returning.js'

/* eslint-disable @typescript-eslint/no-explicit-any */

/**
 * Migration 0002 `up`: merges the live `tenant_channel_credentials_v2` row of
 * each (tenant, channel) into `tenant_channel_settings`, re-encrypted as ev1;
 * archives every legacy row with its reason; verifies; drops the legacy table.
 *
 * Runs inside the engine's write transaction (`ctx.db`), so a refusal, a
 * failed verification or a kill leaves the database as it was: a missing or
 * malformed key is refused before the first write, rows that do not decrypt
 * once every row has been tried, and a verification failure before the
 * commit. The cryptography runs in worker threads (crypto-pool.ts) beside
 * the database work of this thread.
 */
export async function consolidateChannelSettings(ctx: MigrationContext): Promise<ConsolidationReport> {
  const {db, dialect, logger} = ctx
  if (!(await tableExists(db, dialect, TABLES.legacy))) {
    throw new MigrationError(`${TABLES.legacy} does not exist, so there is nothing to consolidate.`, {
      code: 'CONSOLIDATION_SOURCE_MISSING',
      suggestions: ['Check the database is an EngageNinja legacy database (engage migrate status).'],
    })
  }
  // Before the first read: what is counted and loaded stays what there is until commit.
  await lockConsolidationTables(db, dialect, UP_TABLES)
  const total = await countLegacyRows(db)
  // With no credentials to convert, no key is needed (a fresh database migrates without one).
  const key = total > 0 ? parseEncryptionKey(ctx.settings.get('ENCRYPTION_KEY')) : undefined
  // Started first: the workers boot while the plan is computed.
  const pool = key ? new CryptoPool(key, CryptoPool.sizeFor(Math.ceil(total / CONVERT_BATCH_ROWS))) : undefined
  const loader = pool ? new PageLoader(db, dialect, pool) : undefined
  try {
    const settingsRows = await countSettingsRows(db)
    const firstCreatedId = await nextTableId(db, dialect, TABLES.settings)
    // Loaded first: their workers decrypt them while the database computes the plan.
    await loader?.loadRows(ROWS_DECRYPTED_BEFORE_PLAN)
    const planned = pool?.broadcast({task: 'plan', page: 0, plan: await loadPlan(db, dialect), firstCreatedId, encoding: rowsEncodingFor(dialect)})
    // Awaited after the pages; handled now, so a failure in between is not an unhandled rejection.
    planned?.catch(() => {})
    loader?.startConverting()

    // First write. A refusal found later (rows that do not decrypt) rolls it back with the transaction.
    const state = await captureLegacyState(db, dialect)
    await makeSequenceTransactional(db, dialect, TABLES.settings)
    await addSettingsColumns(db)
    await createArchiveTable(db, dialect)
    await createStateTable(db)

    const pageWork = () => withMigrationTuning(db, dialect, async () => {
      let counts: BatchCounts[] = []
      if (pool && loader) {
        const archiveUndecryptable = ctx.options.archiveUndecryptable === true
        // The plan is not awaited first: a worker takes its messages in order, so it reads the plan
        // before its first page, and this thread loads pages meanwhile. A worker that could not read it
        // fails its pages, and the plan's own failure is the one reported.
        const converted = await convertPages(db, dialect, pool, loader, logger, total, archiveUndecryptable).catch(async (error: unknown) => {
          await planned
          throw error
        })
        await planned
        // Every row was decrypted before this refuses: the refusal names them all.
        assertDecryptable(converted.failures, total, key!, archiveUndecryptable)
        const problems = [...converted.problems, ...(await storedPageProblems(db, dialect, pool, converted.verifying))]
        logger.debug(`consolidation: verified ${total}/${total}`)
        await assertVerified(db, problems, total, converted.released)
        counts = converted.counts
      }
      // Inside the tuning's scope (SQLite's larger page cache), so whatever secure_delete zeroes here stays in memory until the commit
      // (on SQLite the table is empty by now: releaseLegacyPage deleted its rows page by page).
      await dropTable(db, TABLES.legacy)
      return counts
    })
    // The constraints come back once the tuning is over: the foreign key's check is one join, best hashed.
    const counts = await withConstraintsRebuilt(db, dialect, TABLES.settings, {legacyRows: total, tableRows: settingsRows}, pageWork)
    await addArchivePrimaryKey(db, dialect)
    if (counts.some((page) => page.created > 0)) await advanceSequenceToMaxId(db, dialect, TABLES.settings)
    state[stateKeys.sequenceAfterUp(TABLES.settings)] = await readSequence(db, dialect, TABLES.settings)
    await saveState(db, state)
    return consolidationReport(counts, settingsRows)
  } finally {
    await pool?.close()
  }
}

/** Pages loaded ahead of the one being written, so the workers always have one to convert. */
const PAGES_AHEAD = 2

/**
 * The conversion as a pipeline over pages of legacy rows: this thread loads
 * a page and hands it to its worker (page-loader.ts), which decrypts it,
 * re-encrypts it and checks the envelopes it computed (`convert`), while
 * this thread writes the pages before it, reads each back and hands that to
 * the worker to check against what it wrote (`verify`), and (SQLite)
 * deletes its legacy rows. The cryptography and the database work run side
 * by side throughout.
 *
 * A row that does not decrypt and may not be archived stops the writes (the
 * transaction will roll back) but not the conversion: every page is still
 * decrypted, so the refusal names every such row and can tell a wrong key
 * (no row decrypts) from damaged rows.
 */
async function convertPages(
  db: Kysely<any>,
  dialect: Dialect,
  pool: CryptoPool,
  loader: PageLoader,
  logger: Logger,
  total: number,
  archiveUndecryptable: boolean,
): Promise<{failures: DecryptFailure[]; counts: BatchCounts[]; verifying: VerifyingPage[]; problems: VerifyProblem[]; released: number}> {
  const archivedAt = new Date().toISOString()
  const failures: DecryptFailure[] = []
  const counts: BatchCounts[] = []
  const verifying: VerifyingPage[] = []
  const problems: VerifyProblem[] = []
  let writing = true
  let released = 0
  let done = 0
  for (let page = 0; ; page++) {
    const current = await loader.page(page, PAGES_AHEAD)
    if (!current) break
    const converted = await current.converted
    failures.push(...converted.failures)
    problems.push(...converted.problems)
    // A row that does not decrypt is written only when it may be archived (as 'undecryptable').
    if (converted.failures.length > 0 && !archiveUndecryptable) writing = false
    if (writing) {
      const stored = await writePageReadingBack(db, dialect, converted.writes, archivedAt, current.rows.first, current.rows.last)
      counts.push(converted.counts)
      released += await releaseLegacyPage(db, dialect, current.rows.first, current.rows.last)
      verifying.push({page, first: current.rows.first, last: current.rows.last, checked: pool.run<PageCheck>({task: 'verify', page, stored})})
    }
    done += current.rows.rows
    loader.release(page)
    logger.debug(`consolidation: converted ${done}/${total}`)
  }
  return {failures, counts, verifying, problems, released}
}

/** What a worker's check of a stored page says (check-stored.ts checkStoredPage). */
type PageCheck = VerifyProblem[] | typeof TEXT_NEEDED

/** A written page on its way through its worker's check, and its legacy ids. */
interface VerifyingPage {
  page: number
  first: number
  last: number
  checked: Promise<PageCheck>
}

/**
 * What the checks of the written pages found. A page whose stored text's
 * digest differed from the one its worker expected (PostgreSQL,
 * write-returning.ts) is read back now as text (verify.ts readBackPage,
 * against its legacy rows, which PostgreSQL keeps until the drop) and
 * checked again, which names what differs.
 */
async function storedPageProblems(db: Kysely<any>, dialect: Dialect, pool: CryptoPool, pages: readonly VerifyingPage[]): Promise<VerifyProblem[]> {
  const problems: VerifyProblem[] = []
  for (const {page, first, last, checked} of pages) {
    let check = await checked
    if (check === TEXT_NEEDED) check = await pool.run<PageCheck>({task: 'verify', page, stored: await readBackPage(db, dialect, first, last)})
    // A text is always settled: only a digest can ask for more.
    if (check === TEXT_NEEDED) throw new MigrationError(`Page ${page} was read back as text and still not checked.`, {code: 'CONSOLIDATION_INTERNAL'})
    problems.push(...check)
  }
  return problems
}
