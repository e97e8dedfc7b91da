import {sql, type Kysely} from 'kysely'
import type {Dialect} from '../../db/database.js'
import {TABLES} from './types.js'
import {execute} from './write.js'

/* eslint-disable @typescript-eslint/no-explicit-any */

/** The number of legacy credential rows; 0002 needs ENCRYPTION_KEY only when it is not zero. */
export async function countLegacyRows(db: Kysely<any>): Promise<number> {
  const {rows} = await sql<{n: number | string}>`SELECT COUNT(*) AS n FROM ${sql.table(TABLES.legacy)}`.execute(db)
  return Number(rows[0]?.n ?? 0)
}

/** The number of settings rows, for the report's "left as they were". */
export async function countSettingsRows(db: Kysely<any>): Promise<number> {
  const {rows} = await sql<{n: number | string}>`SELECT COUNT(*) AS n FROM ${sql.table(TABLES.settings)}`.execute(db)
  return Number(rows[0]?.n ?? 0)
}

/**
 * The live row of each (tenant, channel) pair, computed by the database in
 * one pass: newest `updated_at`, then highest id. Timestamps compare as bytes
 * (SQLite's BINARY collation; PostgreSQL's "C"), as the backend's
 * `ORDER BY updated_at DESC, id DESC` on SQLite does. Liveness does not depend
 * on whether a row decrypts: an undecryptable live row leaves its pair without
 * credentials rather than promoting an older, superseded set. The live ids as
 * one JSON array (in no particular order), passed to the workers as is.
 */
export async function loadLiveIds(db: Kysely<any>, dialect: Dialect): Promise<string> {
  const updatedAt = dialect === 'sqlite' ? 'updated_at' : 'updated_at COLLATE "C"'
  const ids = dialect === 'sqlite' ? 'json_group_array(id)' : 'CAST(json_agg(id) AS text)'
  const [row] = await execute<{ids: string | null}>(
    db,
    `SELECT ${ids} AS ids FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY tenant_id, channel ORDER BY ${updatedAt} DESC, id DESC) AS rank
      FROM "${TABLES.legacy}") AS ranked WHERE rank = 1`,
    [],
  )
  return row?.ids ?? '[]'
}

/** A run of consecutive legacy rows (in id order) decrypted, converted, written and verified together. */
export interface LegacyPage {
  first: number
  last: number
  rows: number
}

/**
 * The positions of a page's rows in the JSON arrays loadLegacyPage returns,
 * and so the fields of LoadedLegacyRow a worker rebuilds (decrypt-legacy.ts).
 */
export const PAGE_COLUMNS = ['id', 'tenant_id', 'channel', 'provider', 'credentials_encrypted', 'webhook_secret', 'tenant_exists', 'settings_id'] as const

/**
 * The next page of at most `size` legacy rows after id `after`, as a JSON
 * array of arrays (PAGE_COLUMNS) built by the database: one string for the
 * page, handed to a crypto worker as is, so the main thread makes no
 * JavaScript object per row. The tenant and settings lookups run on the
 * tables' keys (tenants' primary key, settings' unique (tenant_id, channel)).
 * Undefined after the last page.
 */
export async function loadLegacyPage(
  db: Kysely<any>,
  dialect: Dialect,
  after: number,
  size: number,
): Promise<{page: LegacyPage; json: string} | undefined> {
  const p = (n: number) => (dialect === 'sqlite' ? '?' : `$${n}`)
  const cells = `l.id, l.tenant_id, l.channel, l.provider, l.credentials_encrypted, l.webhook_secret,
      CASE WHEN EXISTS (SELECT 1 FROM "tenants" AS t WHERE t.id = l.tenant_id) THEN 1 ELSE 0 END,
      (SELECT MAX(s.id) FROM "${TABLES.settings}" AS s WHERE s.tenant_id = l.tenant_id AND s.channel = l.channel)`
  const rows = dialect === 'sqlite' ? `json_group_array(json_array(${cells}) ORDER BY l.id)` : `CAST(json_agg(json_build_array(${cells}) ORDER BY l.id) AS text)`
  const [result] = await execute<{rows: string | null; first: number | string | null; last: number | string | null; n: number | string}>(
    db,
    `SELECT ${rows} AS rows, MIN(l.id) AS first, MAX(l.id) AS last, COUNT(*) AS n
    FROM (SELECT id, tenant_id, channel, provider, credentials_encrypted, webhook_secret FROM "${TABLES.legacy}"
      WHERE id > ${p(1)} ORDER BY id LIMIT ${p(2)}) AS l`,
    [after, size],
  )
  const count = Number(result?.n ?? 0)
  if (count === 0 || !result?.rows) return undefined
  return {page: {first: Number(result.first), last: Number(result.last), rows: count}, json: result.rows}
}
