import {CompiledQuery, sql, type Kysely} from 'kysely'
import {TABLES, type LoadedLegacyRow} from './types.js'

/* eslint-disable @typescript-eslint/no-explicit-any */

/** The number of legacy credential rows; 0002 needs ENCRYPTION_KEY only when it is not zero. */
export async function countLegacyRows(db: Kysely<any>): Promise<number> {
  const {rows} = await sql<{n: number | string}>`SELECT COUNT(*) AS n FROM ${sql.table(TABLES.legacy)}`.execute(db)
  return Number(rows[0]?.n ?? 0)
}

/**
 * Every legacy credential row, by id, with the columns `up` computes from and
 * its tenant and settings lookups (LoadedLegacyRow), in one query: the
 * lookups run on the tables' keys (tenants' primary key, settings' unique
 * (tenant_id, channel)) instead of as maps of 100,000 keys in JavaScript.
 * 100,000 rows are a few tens of MB: one query beats paging.
 */
export async function loadLegacyRows(db: Kysely<any>): Promise<LoadedLegacyRow[]> {
  const {rows} = await db.executeQuery<LoadedLegacyRow>(
    CompiledQuery.raw(
      `SELECT l.id, l.tenant_id, l.channel, l.provider, l.credentials_encrypted, l.webhook_secret, l.updated_at,
        CASE WHEN EXISTS (SELECT 1 FROM "tenants" AS t WHERE t.id = l.tenant_id) THEN 1 ELSE 0 END AS tenant_exists,
        (SELECT MAX(s.id) FROM "${TABLES.settings}" AS s WHERE s.tenant_id = l.tenant_id AND s.channel = l.channel) AS settings_id
      FROM "${TABLES.legacy}" AS l ORDER BY l.id`,
      [],
    ),
  )
  // Both drivers return INTEGER as a number; normalised in place in case a driver ever hands a string.
  for (const row of rows as LoadedLegacyRow[]) {
    if (typeof row.id !== 'number') row.id = Number(row.id)
    if (typeof row.tenant_exists !== 'number') row.tenant_exists = Number(row.tenant_exists)
    if (row.settings_id !== null && typeof row.settings_id !== 'number') row.settings_id = Number(row.settings_id)
  }
  return rows as LoadedLegacyRow[]
}

/** The number of settings rows, for the report's "left as they were". */
export async function countSettingsRows(db: Kysely<any>): Promise<number> {
  const {rows} = await sql<{n: number | string}>`SELECT COUNT(*) AS n FROM ${sql.table(TABLES.settings)}`.execute(db)
  return Number(rows[0]?.n ?? 0)
}
