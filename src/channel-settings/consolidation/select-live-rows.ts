import {MigrationError} from '../../errors/engage-error.js'
import {ARCHIVE_REASONS, type ArchiveReason, type ConsolidationReport, type DecryptedRow, type RowDecision} from './types.js'

const LIVE = 1
const TENANT_EXISTS = 2
const CREATES_SETTINGS = 4
/** Values per legacy row in loadPlan's flat JSON array: id, live 0/1, tenant exists 0/1, settings id or null. */
const PLAN_STRIDE = 4

/** What planError says of a plan that is not loadPlan's shape. */
const NOT_A_PLAN = 'is not a list of [id, live, tenant exists, settings id]'

function planError(message: string): MigrationError {
  return new MigrationError(`The consolidation plan ${message}.`, {code: 'CONSOLIDATION_INTERNAL'})
}

/**
 * What the plan says of each legacy row, by its position in legacy id
 * order. Typed arrays rather than an object per row: a worker looks up
 * 100,000 rows and keeps the plan to its last page, and neither a Map nor
 * its entries are then anything for the garbage collector to trace.
 */
export class Plan {
  /** Where the last lookup ended: rows are looked up in id order, so the next one is usually the next position. */
  private next = 0

  private constructor(
    private readonly ids: Float64Array,
    private readonly flags: Uint8Array,
    /** The settings row the pair merges into: the existing one, or the id parse() gave the one 0002 creates; NaN for none. */
    private readonly settingsIds: Float64Array,
  ) {}

  /**
   * Reads loadPlan's JSON and gives each pair that gets a new settings row
   * its id: from `firstCreatedId` on, in legacy id order, as the table's
   * sequence would have handed them out. Knowing them up front spares the
   * archive a lookup per created row and lets the verification check the
   * exact row. A live row that turns out not to decrypt (archived with
   * --archive-undecryptable) creates nothing and leaves its id unused.
   */
  static parse(json: string, firstCreatedId: number): Plan {
    const values = JSON.parse(json) as (number | null)[]
    if (!Array.isArray(values) || values.length % PLAN_STRIDE !== 0) throw planError(NOT_A_PLAN)
    const rows = values.length / PLAN_STRIDE
    const ids = new Float64Array(rows)
    const flags = new Uint8Array(rows)
    const settingsIds = new Float64Array(rows)
    let created = 0
    for (let row = 0, at = 0; row < rows; row++, at += PLAN_STRIDE) {
      const id = values[at]
      if (typeof id !== 'number') throw planError(NOT_A_PLAN)
      if (row > 0 && !(id > ids[row - 1]!)) throw planError(`is not in legacy id order at row ${id}`)
      ids[row] = id
      const settingsId = values[at + 3]
      let flag = (values[at + 1] === 1 ? LIVE : 0) | (values[at + 2] === 1 ? TENANT_EXISTS : 0)
      if (flag === (LIVE | TENANT_EXISTS) && settingsId === null) {
        flag |= CREATES_SETTINGS
        settingsIds[row] = firstCreatedId + created++
      } else settingsIds[row] = settingsId ?? Number.NaN
      flags[row] = flag
    }
    return new Plan(ids, flags, settingsIds)
  }

  /** The position of legacy row `id`, or -1 when the plan does not know it. */
  indexOf(id: number): number {
    const {ids} = this
    let at = this.next < ids.length && ids[this.next] === id ? this.next : -1
    if (at < 0) {
      let low = 0
      let high = ids.length - 1
      while (low <= high) {
        const middle = (low + high) >>> 1
        if (ids[middle]! < id) low = middle + 1
        else if (ids[middle]! > id) high = middle - 1
        else {
          at = middle
          break
        }
      }
    }
    if (at >= 0) this.next = at + 1
    return at
  }

  isLive(at: number): boolean {
    return (this.flags[at]! & LIVE) !== 0
  }

  tenantExists(at: number): boolean {
    return (this.flags[at]! & TENANT_EXISTS) !== 0
  }

  createsSettings(at: number): boolean {
    return (this.flags[at]! & CREATES_SETTINGS) !== 0
  }

  /** The settings row a live row of an existing tenant merges into. */
  settingsId(at: number): number {
    return this.settingsIds[at]!
  }
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
  const at = plan.indexOf(row.id)
  // The tables are locked from before the plan to the commit, so no row can be missing from it.
  if (at < 0) throw new MigrationError(`Legacy row ${row.id} is not in the plan.`, {code: 'CONSOLIDATION_INTERNAL'})
  let reason: ArchiveReason
  if (!entry.ok) {
    reason = 'undecryptable'
    counts.undecryptableRowIds.push(row.id)
  } else if (!plan.tenantExists(at)) reason = 'orphaned'
  else if (!plan.isLive(at)) reason = 'superseded'
  else {
    reason = 'merged'
    if (plan.createsSettings(at)) counts.created++
    else counts.intoExisting++
  }
  counts.byReason[reason]++
  // One shape for every decision, merged or not.
  const merged = reason === 'merged'
  return {decrypted: entry, reason, settingsId: merged ? plan.settingsId(at) : undefined, createsSettings: merged && plan.createsSettings(at)}
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
