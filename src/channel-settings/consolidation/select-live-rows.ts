import {MigrationError} from '../../errors/engage-error.js'
import {ARCHIVE_REASONS, type ArchiveReason, type ConsolidationReport, type DecryptedRow, type RowDecision} from './types.js'

/**
 * What the plan says of one legacy row: load.ts loadPlan's
 * [id, live 0/1, tenant exists 0/1, the pair's settings row id or null],
 * completed by parsePlan with [settings id it merges into, creates 0/1].
 */
export type PlannedRow = readonly [id: number, live: number, tenantExists: number, settingsId: number | null, creates?: 0 | 1]

/** The plan by legacy id. */
export type Plan = ReadonlyMap<number, PlannedRow>

/**
 * Reads loadPlan's JSON and gives each pair that gets a new settings row its
 * id: from `firstCreatedId` on, in legacy id order, as the table's sequence
 * would have handed them out. Knowing them up front spares the archive a
 * lookup per created row and lets the verification check the exact row. A
 * live row that turns out not to decrypt (archived with
 * --archive-undecryptable) creates nothing and leaves its id unused.
 */
export function parsePlan(json: string, firstCreatedId: number): Plan {
  const plan = new Map<number, [number, number, number, number | null, (0 | 1)?]>()
  const creating: number[] = []
  for (const row of JSON.parse(json) as [number, number, number, number | null][]) {
    const id = Number(row[0])
    plan.set(id, row)
    if (row[1] === 1 && row[2] === 1 && row[3] === null) creating.push(id)
  }
  creating.sort((a, b) => a - b)
  for (let index = 0; index < creating.length; index++) {
    const row = plan.get(creating[index]!)!
    row[3] = firstCreatedId + index
    row[4] = 1
  }
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
  const [, live, tenantExists, plannedSettingsId, creates] = planned
  let decision: RowDecision
  if (!entry.ok) {
    decision = {decrypted: entry, reason: 'undecryptable'}
    counts.undecryptableRowIds.push(row.id)
  } else if (tenantExists === 0) decision = {decrypted: entry, reason: 'orphaned'}
  else if (live === 0) decision = {decrypted: entry, reason: 'superseded'}
  else {
    decision = {decrypted: entry, reason: 'merged', settingsId: plannedSettingsId!, createsSettings: creates === 1}
    if (decision.createsSettings) counts.created++
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
