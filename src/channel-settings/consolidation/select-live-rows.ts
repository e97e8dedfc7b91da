import {MigrationError} from '../../errors/engage-error.js'
import {ARCHIVE_REASONS, type ArchiveReason, type ConsolidationReport, type DecryptedRow, type RowDecision} from './types.js'

/** What load.ts loadPlan says of one legacy row: [id, live 0/1, tenant exists 0/1, the pair's settings row id or null]. */
type LoadedPlanRow = [id: number, live: number, tenantExists: number, settingsId: number | null]

/**
 * What the plan says of one legacy row, once parsed. One class, so every
 * entry has the same shape (decideRow reads 100,000 of them).
 */
export class PlannedRow {
  constructor(
    readonly live: boolean,
    readonly tenantExists: boolean,
    /** The settings row the pair merges into: the existing one, or the id parsePlan gave the one 0002 creates; null for none. */
    public settingsId: number | null,
    public createsSettings = false,
  ) {}
}

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
  const plan = new Map<number, PlannedRow>()
  const creating: number[] = []
  for (const [id, live, tenantExists, settingsId] of JSON.parse(json) as LoadedPlanRow[]) {
    const planned = new PlannedRow(live === 1, tenantExists === 1, settingsId)
    plan.set(Number(id), planned)
    if (planned.live && planned.tenantExists && settingsId === null) creating.push(Number(id))
  }
  creating.sort((a, b) => a - b)
  for (let index = 0; index < creating.length; index++) {
    const planned = plan.get(creating[index]!)!
    planned.settingsId = firstCreatedId + index
    planned.createsSettings = true
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
  let reason: ArchiveReason
  if (!entry.ok) {
    reason = 'undecryptable'
    counts.undecryptableRowIds.push(row.id)
  } else if (!planned.tenantExists) reason = 'orphaned'
  else if (!planned.live) reason = 'superseded'
  else {
    reason = 'merged'
    if (planned.createsSettings) counts.created++
    else counts.intoExisting++
  }
  counts.byReason[reason]++
  // One shape for every decision, merged or not.
  const merged = reason === 'merged'
  return {decrypted: entry, reason, settingsId: merged ? planned.settingsId! : undefined, createsSettings: merged && planned.createsSettings}
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
