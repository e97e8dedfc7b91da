import type {Kysely} from 'kysely'
import type {Dialect} from '../../db/database.js'
import {ARCHIVE_REASONS, TABLES, type ArchiveReason, type ConsolidationReport, type DecryptedRow, type RowDecision} from './types.js'
import {execute} from './write.js'

/* eslint-disable @typescript-eslint/no-explicit-any */

/** Every legacy id in order, and beside each whether it is its pair's live row. */
export interface LivePlan {
  ids: number[]
  live: number[]
}

/**
 * The live row of each (tenant, channel) pair, computed by the database in
 * one pass: newest `updated_at`, then highest id. Timestamps compare as bytes
 * (SQLite's BINARY collation; PostgreSQL's "C"), as the backend's
 * `ORDER BY updated_at DESC, id DESC` on SQLite does. Liveness does not depend
 * on whether a row decrypts: an undecryptable live row leaves its pair without
 * credentials rather than promoting an older, superseded set. Two JSON arrays
 * of numbers (one string each), so 100,000 rows cost no JavaScript object each.
 */
export async function loadLivePlan(db: Kysely<any>, dialect: Dialect): Promise<LivePlan> {
  const updatedAt = dialect === 'sqlite' ? 'updated_at' : 'updated_at COLLATE "C"'
  const aggregate = (column: string) =>
    dialect === 'sqlite' ? `json_group_array(${column} ORDER BY id)` : `CAST(json_agg(${column} ORDER BY id) AS text)`
  const [row] = await execute<{ids: string | null; live: string | null}>(
    db,
    `SELECT ${aggregate('id')} AS ids, ${aggregate('live')} AS live
    FROM (SELECT id, CASE WHEN ROW_NUMBER() OVER (PARTITION BY tenant_id, channel ORDER BY ${updatedAt} DESC, id DESC) = 1
      THEN 1 ELSE 0 END AS live FROM "${TABLES.legacy}") AS ranked`,
    [],
  )
  return {ids: JSON.parse(row?.ids ?? '[]') as number[], live: JSON.parse(row?.live ?? '[]') as number[]}
}

/** What one batch's decisions add up to; summed into the report. */
export interface BatchCounts {
  byReason: Record<ArchiveReason, number>
  intoExisting: number
  created: number
  undecryptableRowIds: number[]
}

/**
 * Decides what happens to each legacy row of a batch: a row that does not
 * decrypt (only with archiveUndecryptable) is 'undecryptable' whatever its
 * place; a row whose tenant no longer exists is 'orphaned'; the pair's live
 * row is 'merged' into the settings row (existing, or created disabled); any
 * other is 'superseded'.
 */
export function decideRows(decrypted: readonly DecryptedRow[]): {decisions: RowDecision[]; counts: BatchCounts} {
  const counts: BatchCounts = {
    byReason: Object.fromEntries(ARCHIVE_REASONS.map((reason) => [reason, 0])) as Record<ArchiveReason, number>,
    intoExisting: 0,
    created: 0,
    undecryptableRowIds: [],
  }
  const decisions: RowDecision[] = new Array(decrypted.length)
  for (let index = 0; index < decrypted.length; index++) {
    const entry = decrypted[index]!
    const {row} = entry
    let decision: RowDecision
    if (!entry.ok) {
      decision = {decrypted: entry, reason: 'undecryptable'}
      counts.undecryptableRowIds.push(row.id)
    } else if (row.tenant_exists === 0) decision = {decrypted: entry, reason: 'orphaned'}
    else if (row.live === 0) decision = {decrypted: entry, reason: 'superseded'}
    else {
      const settingsId = row.settings_id ?? undefined
      decision = {decrypted: entry, reason: 'merged', settingsId}
      if (settingsId === undefined) counts.created++
      else counts.intoExisting++
    }
    counts.byReason[decision.reason]++
    decisions[index] = decision
  }
  return {decisions, counts}
}

/**
 * The report of the whole migration from its batches' counts. `settingsRows`
 * is the number of settings rows before the migration; as (tenant_id,
 * channel) is unique there, each pair merged into an existing row is one of
 * them changed.
 */
export function consolidationReport(batches: readonly BatchCounts[], settingsRows: number): ConsolidationReport {
  const byReason = Object.fromEntries(ARCHIVE_REASONS.map((reason) => [reason, 0])) as Record<ArchiveReason, number>
  let intoExisting = 0
  let created = 0
  const undecryptableRowIds: number[] = []
  for (const batch of batches) {
    for (const reason of ARCHIVE_REASONS) byReason[reason] += batch.byReason[reason]
    intoExisting += batch.intoExisting
    created += batch.created
    undecryptableRowIds.push(...batch.undecryptableRowIds)
  }
  const total = ARCHIVE_REASONS.reduce((sum, reason) => sum + byReason[reason], 0)
  return {
    legacyCredentialRows: total,
    merge: {intoExistingSettings: intoExisting, createdDisabledSettings: created},
    settingsRowsUnchanged: settingsRows - intoExisting,
    archive: {total, byReason},
    undecryptableRowIds,
  }
}
