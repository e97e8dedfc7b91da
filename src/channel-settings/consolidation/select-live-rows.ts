import {MigrationError} from '../../errors/engage-error.js'
import {ARCHIVE_REASONS, type ArchiveReason, type ConsolidationReport, type DecryptedRow, type RowDecision} from './types.js'

/** What the plan (load.ts loadPlan) says of one legacy row: [id, live 0/1, tenant exists 0/1, the pair's settings row id or null]. */
export type PlannedRow = readonly [id: number, live: number, tenantExists: number, settingsId: number | null]

/** The plan by legacy id. */
export type Plan = ReadonlyMap<number, PlannedRow>

export function parsePlan(json: string): Plan {
  const plan = new Map<number, PlannedRow>()
  for (const row of JSON.parse(json) as PlannedRow[]) plan.set(Number(row[0]), row)
  return plan
}

/** What one batch's decisions add up to; summed into the report. */
export interface BatchCounts {
  byReason: Record<ArchiveReason, number>
  intoExisting: number
  created: number
  undecryptableRowIds: number[]
}

/** Zero for each reason. */
function zeroByReason(): Record<ArchiveReason, number> {
  return Object.fromEntries(ARCHIVE_REASONS.map((reason) => [reason, 0])) as Record<ArchiveReason, number>
}

/** Counts with nothing counted yet. */
export function emptyCounts(): BatchCounts {
  return {
    byReason: zeroByReason(),
    intoExisting: 0,
    created: 0,
    undecryptableRowIds: [],
  }
}

/**
 * Decides what happens to a legacy row, and counts it: a row that does not
 * decrypt (only with archiveUndecryptable) is 'undecryptable' whatever its
 * place; a row whose tenant no longer exists is 'orphaned'; the pair's live
 * row is 'merged' into the settings row (existing, or created disabled); any
 * other is 'superseded'.
 */
export function decideRow(entry: DecryptedRow, plan: Plan, counts: BatchCounts): RowDecision {
  const {row} = entry
  const planned = plan.get(row.id)
  // The tables are locked from before the plan to the commit, so no row can be missing from it.
  if (!planned) throw new MigrationError(`Legacy row ${row.id} is not in the plan.`, {code: 'CONSOLIDATION_INTERNAL'})
  const [, live, tenantExists, plannedSettingsId] = planned
  let decision: RowDecision
  if (!entry.ok) {
    decision = {decrypted: entry, reason: 'undecryptable'}
    counts.undecryptableRowIds.push(row.id)
  } else if (tenantExists === 0) decision = {decrypted: entry, reason: 'orphaned'}
  else if (live === 0) decision = {decrypted: entry, reason: 'superseded'}
  else {
    const settingsId = plannedSettingsId ?? undefined
    decision = {decrypted: entry, reason: 'merged', settingsId}
    if (settingsId === undefined) counts.created++
    else counts.intoExisting++
  }
  counts.byReason[decision.reason]++
  return decision
}

/**
 * The report of the whole migration from its batches' counts. `settingsRows`
 * is the number of settings rows before the migration; as (tenant_id,
 * channel) is unique there, each pair merged into an existing row is one of
 * them changed.
 */
export function consolidationReport(batches: readonly BatchCounts[], settingsRows: number): ConsolidationReport {
  const byReason = zeroByReason()
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
