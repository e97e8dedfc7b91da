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
 */
export function planConsolidation(
  decrypted: DecryptedRow[],
  tenantIds: Set<string>,
  settings: {tenant_id: string; channel: string; id: number}[],
): ConsolidationPlan {
  const settingsByPair = new Map(settings.map((row) => [pairKey(row.tenant_id, row.channel), row.id]))
  const liveByPair = new Map<string, DecryptedRow>()
  // One key string per row, built and hashed once (100,000 rows: fresh strings per lookup showed in profiles).
  const keys = decrypted.map((entry) => pairKey(entry.row.tenant_id, entry.row.channel))
  for (const [index, entry] of decrypted.entries()) {
    if (!tenantIds.has(entry.row.tenant_id)) continue
    const key = keys[index]!
    const current = liveByPair.get(key)
    if (!current || isNewer(entry.row, current.row)) liveByPair.set(key, entry)
  }
  const counts = Object.fromEntries(ARCHIVE_REASONS.map((reason) => [reason, 0])) as Record<ArchiveReason, number>
  let intoExisting = 0
  let created = 0
  const mergedPairs = new Set<string>()
  const decisions: RowDecision[] = decrypted.map((entry, index) => {
    const key = keys[index]!
    let decision: RowDecision
    if (!entry.ok) decision = {decrypted: entry, reason: 'undecryptable'}
    else if (!tenantIds.has(entry.row.tenant_id)) decision = {decrypted: entry, reason: 'orphaned'}
    else if (liveByPair.get(key) !== entry) decision = {decrypted: entry, reason: 'superseded'}
    else {
      const settingsId = settingsByPair.get(key)
      decision = {decrypted: entry, reason: 'merged', settingsId}
      mergedPairs.add(key)
      if (settingsId === undefined) created++
      else intoExisting++
    }
    counts[decision.reason]++
    return decision
  })
  const unchanged = settings.filter((row) => !mergedPairs.has(pairKey(row.tenant_id, row.channel))).length
  return {
    decisions,
    report: {
      legacyCredentialRows: decrypted.length,
      merge: {intoExistingSettings: intoExisting, createdDisabledSettings: created},
      settingsRowsUnchanged: unchanged,
      archive: {total: decrypted.length, byReason: counts},
      undecryptableRowIds: decrypted.filter((entry) => !entry.ok).map((entry) => entry.row.id),
    },
  }
}
