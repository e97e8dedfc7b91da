import {parseEncryptionKey} from '../../crypto/encryption-key.js'
import {MigrationError} from '../../errors/engage-error.js'
import type {Logger} from '../../cli/logger.js'
import type {Dialect} from '../../db/database.js'
import type {MigrationContext} from '../../migrate/types.js'
import {tableExists} from '../../migrate/schema-inspect.js'
import type {Kysely} from 'kysely'
import {CONVERT_BATCH_ROWS} from './batches.js'
import {CryptoPool} from './crypto-pool.js'
import {assertDecryptable, type DecryptFailure} from './decrypt-legacy.js'
import {countLegacyRows, countSettingsRows, loadLegacyPage, loadLiveIds, type LegacyPage} from './load.js'
import {lockConsolidationTables, UP_TABLES} from './locks.js'
import {addSettingsColumns, createArchiveTable, createStateTable, dropTable} from './schema.js'
import {withMigrationPageCache} from './page-cache.js'
import {consolidationReport, type BatchCounts} from './select-live-rows.js'
import {captureLegacyState, makeSequenceTransactional, readSequence, saveState, stateKeys} from './state.js'
import {TABLES, type ConsolidationReport} from './types.js'
import {assertVerified, readBackPage, type VerifyProblem} from './verify.js'
import type {EncryptedPage} from './worker-tasks.js'
import {writePage} from './write.js'

/* eslint-disable @typescript-eslint/no-explicit-any */

/**
 * Migration 0002 `up`: merges the live `tenant_channel_credentials_v2` row of
 * each (tenant, channel) into `tenant_channel_settings`, re-encrypted as ev1;
 * archives every legacy row with its reason; verifies; drops the legacy table.
 *
 * Everything that can refuse (missing or malformed key, rows that do not
 * decrypt) is decided before the first write. Runs inside the engine's write
 * transaction (`ctx.db`), so a failure or a kill leaves the database as it was.
 * The cryptography runs in worker threads (crypto-pool.ts) beside the
 * database work of this thread.
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
  // Started first: the workers boot while the first page loads.
  const pool = key ? new CryptoPool(key, CryptoPool.sizeFor(Math.ceil(total / CONVERT_BATCH_ROWS))) : undefined
  try {
    const {pages, failures} = await decryptPages(db, dialect, pool, logger)
    if (key) assertDecryptable(failures, total, key, ctx.options.archiveUndecryptable === true)
    const settingsRows = await countSettingsRows(db)

    // First write: from here on, failures roll back with the transaction.
    const state = await captureLegacyState(db, dialect)
    await makeSequenceTransactional(db, dialect, TABLES.settings)
    await addSettingsColumns(db)
    await createArchiveTable(db)
    await createStateTable(db)

    const counts = await withMigrationPageCache(db, dialect, async () => {
      const {verifying, counts} = await writePages(db, dialect, pool, pages, logger, total)
      const problems = (await Promise.all(verifying)).flat()
      logger.debug(`consolidation: verified ${total}/${total}`)
      await assertVerified(db, problems, total)
      return counts
    })
    await dropTable(db, TABLES.legacy)
    state[stateKeys.sequenceAfterUp(TABLES.settings)] = await readSequence(db, dialect, TABLES.settings)
    await saveState(db, state)
    return consolidationReport(counts, settingsRows)
  } finally {
    await pool?.close()
  }
}

/**
 * The decrypt pass, before anything is written: each page loaded by this
 * thread and sent to its worker, which decrypts it while the next loads, and
 * then, while the workers finish, the plan of live rows (encryption needs it;
 * decryption does not).
 */
async function decryptPages(
  db: Kysely<any>,
  dialect: Dialect,
  pool: CryptoPool | undefined,
  logger: Logger,
): Promise<{pages: LegacyPage[]; failures: DecryptFailure[]}> {
  if (!pool) return {pages: [], failures: []}
  const pages: LegacyPage[] = []
  const decrypting: Promise<DecryptFailure[]>[] = []
  for (let after: number | undefined; ; ) {
    const next = await loadLegacyPage(db, dialect, after, CONVERT_BATCH_ROWS)
    if (!next) break
    decrypting.push(pool.run<DecryptFailure[]>({task: 'decrypt', page: pages.length, rows: next.rows}))
    pages.push(next.page)
    after = next.page.last
  }
  const planned = pool.broadcast({task: 'plan', page: 0, liveIds: await loadLiveIds(db, dialect)})
  const failures = (await Promise.all(decrypting)).flat()
  await planned
  logger.debug(`consolidation: decrypted ${pages.reduce((sum, page) => sum + page.rows, 0)} legacy rows`)
  return {pages, failures}
}

/**
 * Each page re-encrypted by its worker (all asked at once, so the workers run
 * ahead), written by this thread as its turn comes, read back, and handed to
 * its worker to check while this thread writes the next pages. Returns the
 * checks still running.
 */
async function writePages(
  db: Kysely<any>,
  dialect: Dialect,
  pool: CryptoPool | undefined,
  pages: readonly LegacyPage[],
  logger: Logger,
  total: number,
): Promise<{verifying: Promise<VerifyProblem[]>[]; counts: BatchCounts[]}> {
  if (!pool) return {verifying: [], counts: []}
  const archivedAt = new Date().toISOString()
  const encrypting = pages.map((_, page) => pool.run<EncryptedPage>({task: 'encrypt', page}))
  const verifying: Promise<VerifyProblem[]>[] = []
  const counts: BatchCounts[] = []
  let done = 0
  for (const [page, rows] of pages.entries()) {
    const encrypted = await encrypting[page]!
    await writePage(db, dialect, encrypted.writes, archivedAt)
    counts.push(encrypted.counts)
    const stored = await readBackPage(db, dialect, rows.first, rows.last)
    verifying.push(pool.run<VerifyProblem[]>({task: 'verify', page, stored}))
    done += rows.rows
    logger.debug(`consolidation: converted ${done}/${total}`)
  }
  return {verifying, counts}
}
