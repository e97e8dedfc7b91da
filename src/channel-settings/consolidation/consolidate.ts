import {parseEncryptionKey} from '../../crypto/encryption-key.js'
import {MigrationError} from '../../errors/engage-error.js'
import type {MigrationContext} from '../../migrate/types.js'
import {tableExists} from '../../migrate/schema-inspect.js'
import {CONVERT_BATCH_ROWS, chunk} from './batches.js'
import {convertBatch} from './convert.js'
import {assertDecryptable, decryptLegacyRows} from './decrypt-legacy.js'
import {countLegacyRows, countSettingsRows, loadLegacyRows} from './load.js'
import {lockConsolidationTables, UP_TABLES} from './locks.js'
import {addSettingsColumns, createArchiveTable, createStateTable, dropTable} from './schema.js'
import {withMigrationPageCache} from './page-cache.js'
import {planConsolidation} from './select-live-rows.js'
import {captureLegacyState, makeSequenceTransactional, readSequence, saveState, stateKeys} from './state.js'
import {TABLES, type ConsolidationReport} from './types.js'
import {assertVerified, verifyAgainstLegacy, verifyBatch, type VerifyProblem} from './verify.js'
import {writeBatch} from './write.js'

/**
 * Migration 0002 `up`: merges the live `tenant_channel_credentials_v2` row of
 * each (tenant, channel) into `tenant_channel_settings`, re-encrypted as ev1;
 * archives every legacy row with its reason; verifies; drops the legacy table.
 *
 * Everything that can refuse (missing or malformed key, rows that do not
 * decrypt) is decided before the first write. Runs inside the engine's write
 * transaction (`ctx.db`), so a failure or a kill leaves the database as it was.
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
  const legacyRows = total > 0 ? await loadLegacyRows(db) : []
  const decrypted = key ? decryptLegacyRows(key, legacyRows, logger) : []
  if (key) assertDecryptable(decrypted, key, ctx.options.archiveUndecryptable === true)
  const plan = planConsolidation(decrypted, await countSettingsRows(db))

  // First write: from here on, failures roll back with the transaction.
  const state = await captureLegacyState(db, dialect)
  await makeSequenceTransactional(db, dialect, TABLES.settings)
  await addSettingsColumns(db)
  await createArchiveTable(db)
  await createStateTable(db)

  const archivedAt = new Date().toISOString()
  await withMigrationPageCache(db, dialect, async () => {
    let done = 0
    const problems: VerifyProblem[] = []
    for (const decisions of chunk(plan.decisions, CONVERT_BATCH_ROWS)) {
      const batch = convertBatch(key!, decisions)
      await writeBatch(db, dialect, batch, archivedAt)
      done += decisions.length
      logger.debug(`consolidation: converted ${done}/${total}`)
      problems.push(...(await verifyBatch(db, dialect, key!, batch)))
      logger.debug(`consolidation: verified ${done}/${total}`)
    }
    if (total > 0) problems.push(...(await verifyAgainstLegacy(db, dialect)))
    await assertVerified(db, problems, total)
  })
  await dropTable(db, TABLES.legacy)
  state[stateKeys.sequenceAfterUp(TABLES.settings)] = await readSequence(db, dialect, TABLES.settings)
  await saveState(db, state)
  return plan.report
}
