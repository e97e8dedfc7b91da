import {sql, type Kysely} from 'kysely'
import {LEGACY_COLUMNS, TABLES, type LegacyCredentialRow} from './types.js'

/* eslint-disable @typescript-eslint/no-explicit-any */

/** The number of legacy credential rows; 0002 needs ENCRYPTION_KEY only when it is not zero. */
export async function countLegacyRows(db: Kysely<any>): Promise<number> {
  const {rows} = await sql<{n: number | string}>`SELECT COUNT(*) AS n FROM ${sql.table(TABLES.legacy)}`.execute(db)
  return Number(rows[0]?.n ?? 0)
}

/** Every legacy credential row, by id. 100,000 rows are a few tens of MB: one query beats paging. */
export async function loadLegacyRows(db: Kysely<any>): Promise<LegacyCredentialRow[]> {
  const rows = await db.selectFrom(TABLES.legacy).select([...LEGACY_COLUMNS]).orderBy('id').execute()
  return rows.map((row) => ({...row, id: Number(row.id), is_verified: Number(row.is_verified)}) as LegacyCredentialRow)
}

/** Ids of the tenants that exist; a legacy row pointing elsewhere is an orphan. */
export async function loadTenantIds(db: Kysely<any>): Promise<Set<string>> {
  const rows = await db.selectFrom('tenants').select('id').execute()
  return new Set(rows.map((row) => String(row.id)))
}

/** Existing settings rows as (tenant, channel) → id. */
export async function loadSettingsPairs(db: Kysely<any>): Promise<{tenant_id: string; channel: string; id: number}[]> {
  const rows = await db.selectFrom(TABLES.settings).select(['id', 'tenant_id', 'channel']).execute()
  return rows.map((row) => ({id: Number(row.id), tenant_id: String(row.tenant_id), channel: String(row.channel)}))
}
