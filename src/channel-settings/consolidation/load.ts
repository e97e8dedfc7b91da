import {CompiledQuery, sql, type Kysely} from 'kysely'
import {LOADED_LEGACY_COLUMNS, TABLES, type LoadedLegacyRow} from './types.js'

/* eslint-disable @typescript-eslint/no-explicit-any */

/** The number of legacy credential rows; 0002 needs ENCRYPTION_KEY only when it is not zero. */
export async function countLegacyRows(db: Kysely<any>): Promise<number> {
  const {rows} = await sql<{n: number | string}>`SELECT COUNT(*) AS n FROM ${sql.table(TABLES.legacy)}`.execute(db)
  return Number(rows[0]?.n ?? 0)
}

/**
 * Every legacy credential row, by id, with the columns `up` computes from
 * (LOADED_LEGACY_COLUMNS). 100,000 rows are a few tens of MB: one query beats
 * paging.
 */
export async function loadLegacyRows(db: Kysely<any>): Promise<LoadedLegacyRow[]> {
  const columns = LOADED_LEGACY_COLUMNS.map((column) => `"${column}"`).join(', ')
  const {rows} = await db.executeQuery<LoadedLegacyRow>(CompiledQuery.raw(`SELECT ${columns} FROM "${TABLES.legacy}" ORDER BY id`, []))
  // Both drivers return INTEGER as a number; normalised in place in case a driver ever hands a string.
  for (const row of rows as LoadedLegacyRow[]) if (typeof row.id !== 'number') row.id = Number(row.id)
  return rows as LoadedLegacyRow[]
}

/** Ids of the tenants that exist; a legacy row pointing elsewhere is an orphan. */
export async function loadTenantIds(db: Kysely<any>): Promise<Set<string>> {
  const {rows} = await db.executeQuery<{id: string}>(CompiledQuery.raw('SELECT id FROM "tenants"', []))
  const ids = new Set<string>()
  for (const row of rows) ids.add(String(row.id))
  return ids
}

/** Existing settings rows as (tenant, channel) → id. */
export async function loadSettingsPairs(db: Kysely<any>): Promise<{tenant_id: string; channel: string; id: number}[]> {
  const {rows} = await db.executeQuery<{tenant_id: string; channel: string; id: number}>(
    CompiledQuery.raw(`SELECT id, tenant_id, channel FROM "${TABLES.settings}"`, []),
  )
  for (const row of rows as {id: number}[]) if (typeof row.id !== 'number') row.id = Number(row.id)
  return rows as {tenant_id: string; channel: string; id: number}[]
}
