import {ARCHIVE_REASONS, pairKey, type ArchiveReason, type ConsolidationReport, type DecryptedRow, type RowDecision} from './types.js'

/**
 * The live row of a (tenant, channel) pair: newest `updated_at`, then highest
 * id. Timestamps compare as text (code-unit order), as the backend's
 * `ORDER BY updated_at DESC, id DESC` on SQLite does.
 */
export function isNewer(a: {updated_at: string; id: number}, b: {updated_at: string; id: number}): boolean {
  if (a.updated_at !== b.updated_at) return a.updated_at > b.updated_at
  return a.id > b.id
}

export interface ConsolidationPlan {
  /** One decision per legacy row, in id order. */
  decisions: RowDecision[]
  report: ConsolidationReport
}

/**
 * Decides what happens to every legacy row. Per (tenant, channel): a tenant
 * that no longer exists makes all its rows 'orphaned'; otherwise the live row
 * is 'merged' into the settings row (existing, or created disabled) and the
 * others are 'superseded'. A row that does not decrypt (only with
 * archiveUndecryptable) is 'undecryptable' whatever its place; when it is the
 * live row, the pair gets no credentials rather than an older, superseded set.
 * `settingsRows` is the number of settings rows before the migration; as
 * (tenant_id, channel) is unique there, each pair merged into an existing row
 * is one of them changed.
 */
export function planConsolidation(decrypted: DecryptedRow[], settingsRows: number): ConsolidationPlan {
  // One key string per row, built and hashed once, one map; plain loops (100,000 rows: per-row closures,
  // fresh strings and more maps showed in profiles).
  const count = decrypted.length
  const keys: (string | undefined)[] = new Array(count)
  const liveByPair = new Map<string, number>()
  for (let index = 0; index < count; index++) {
    const row = decrypted[index]!.row
    if (row.tenant_exists === 0) continue
    const key = pairKey(row.tenant_id, row.channel)
    keys[index] = key
    const current = liveByPair.get(key)
    if (current === undefined || isNewer(row, decrypted[current]!.row)) liveByPair.set(key, index)
  }
  const counts = Object.fromEntries(ARCHIVE_REASONS.map((reason) => [reason, 0])) as Record<ArchiveReason, number>
  let intoExisting = 0
  let created = 0
  const undecryptableRowIds: number[] = []
  const decisions: RowDecision[] = new Array(count)
  for (let index = 0; index < count; index++) {
    const entry = decrypted[index]!
    const key = keys[index]
    let decision: RowDecision
    if (!entry.ok) {
      decision = {decrypted: entry, reason: 'undecryptable'}
      undecryptableRowIds.push(entry.row.id)
    } else if (key === undefined) decision = {decrypted: entry, reason: 'orphaned'}
    else if (liveByPair.get(key) !== index) decision = {decrypted: entry, reason: 'superseded'}
    else {
      const settingsId = entry.row.settings_id ?? undefined
      decision = {decrypted: entry, reason: 'merged', settingsId}
      if (settingsId === undefined) created++
      else intoExisting++
    }
    counts[decision.reason]++
    decisions[index] = decision
  }
  return {
    decisions,
    report: {
      legacyCredentialRows: count,
      merge: {intoExistingSettings: intoExisting, createdDisabledSettings: created},
      settingsRowsUnchanged: settingsRows - intoExisting,
      archive: {total: count, byReason: counts},
      undecryptableRowIds,
    },
  }
}
