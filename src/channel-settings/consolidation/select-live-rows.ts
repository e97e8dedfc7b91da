import {ARCHIVE_REASONS, type ArchiveReason, type ConsolidationReport, type DecryptedRow, type RowDecision} from './types.js'

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
 * other is 'superseded'. `liveIds`: every pair's live row (loadLiveIds).
 */
export function decideRows(decrypted: readonly DecryptedRow[], liveIds: ReadonlySet<number>): {decisions: RowDecision[]; counts: BatchCounts} {
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
    else if (!liveIds.has(row.id)) decision = {decrypted: entry, reason: 'superseded'}
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
