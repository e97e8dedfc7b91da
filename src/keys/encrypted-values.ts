import type {Kysely} from 'kysely'
import {ENCRYPTED_COLUMNS, type EncryptedColumn} from '../crypto/encrypted-columns.js'

/** One stored envelope and what its associated data is rebuilt from. */
export interface EncryptedValue {
  id: number
  tenant_id: string
  channel: string
  value: string
}

/**
 * The registered encrypted columns that exist in this database, and those
 * that do not yet (a database before migration 0002 has none of them).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function presentEncryptedColumns(db: Kysely<any>): Promise<{present: EncryptedColumn[]; missing: EncryptedColumn[]}> {
  const tables = await db.introspection.getTables()
  const columns = new Map(tables.map((table) => [table.name, new Set(table.columns.map((column) => column.name))]))
  const present: EncryptedColumn[] = []
  const missing: EncryptedColumn[] = []
  for (const entry of ENCRYPTED_COLUMNS) (columns.get(entry.table)?.has(entry.column) ? present : missing).push(entry)
  return {present, missing}
}

/**
 * One page of non-NULL values of a column after `afterId`, in id order
 * (keyset pagination: stable while other rows change, cheap to resume).
 * `excludeKeyId` skips values already written with that key.
 */
export async function readEncryptedPage(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  db: Kysely<any>,
  entry: EncryptedColumn,
  options: {afterId: number | null; limit: number; excludeKeyId?: string},
): Promise<EncryptedValue[]> {
  let query = db
    .selectFrom(entry.table)
    .select([`${entry.idColumn} as id`, 'tenant_id', 'channel', `${entry.column} as value`])
    .where(entry.column, 'is not', null)
  if (options.afterId !== null) query = query.where(entry.idColumn, '>', options.afterId)
  // Key ids are hex, so the pattern has no LIKE wildcards in it.
  if (options.excludeKeyId !== undefined) query = query.where(entry.column, 'not like', `ev1.${options.excludeKeyId}.%`)
  const rows = await query.orderBy(entry.idColumn).limit(options.limit).execute()
  return rows.map((row) => ({id: Number(row.id), tenant_id: String(row.tenant_id), channel: String(row.channel), value: String(row.value)}))
}

export function describeColumn(entry: EncryptedColumn): string {
  return `${entry.table}.${entry.column}`
}
