import {sql, type Kysely} from 'kysely'
import type {Dialect} from '../../db/database.js'
import {selectPage, type PageColumn} from './page-rows.js'
import {TABLES, type PageRow, type PageRows} from './types.js'
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

const PAGE_COLUMNS: readonly PageColumn[] = [
  ['id', 'l.id'],
  ['tenant_id', 'l.tenant_id'],
  ['channel', 'l.channel'],
  ['provider', 'l.provider'],
  ['credentials_encrypted', 'l.credentials_encrypted'],
  ['webhook_secret', 'l.webhook_secret'],
  ['tenant_exists', 'CASE WHEN EXISTS (SELECT 1 FROM "tenants" AS t WHERE t.id = l.tenant_id) THEN 1 ELSE 0 END'],
  ['settings_id', `(SELECT MAX(s.id) FROM "${TABLES.settings}" AS s WHERE s.tenant_id = l.tenant_id AND s.channel = l.channel)`],
]

/**
 * The next page of at most `size` legacy rows after id `after` (the first
 * page when undefined; PageRow
 * objects, selectPage's shape), undefined after the last page. The tenant
 * and settings lookups run on the tables' keys (tenants' primary key,
 * settings' unique (tenant_id, channel)).
 */
export async function loadLegacyPage(
  db: Kysely<any>,
  dialect: Dialect,
  after: number | undefined,
  size: number,
): Promise<{page: LegacyPage; rows: PageRows<PageRow>} | undefined> {
  const p = (n: number) => (dialect === 'sqlite' ? '?' : `$${n}`)
  // The first page has no lower bound: ids are whatever the backend wrote, zero and below included.
  const bounded = after !== undefined
  const {rows, count, first, last} = await selectPage<PageRow>(
    db,
    dialect,
    PAGE_COLUMNS,
    'l.id',
    `FROM (SELECT id, tenant_id, channel, provider, credentials_encrypted, webhook_secret FROM "${TABLES.legacy}"
      ${bounded ? `WHERE id > ${p(1)}` : ''} ORDER BY id LIMIT ${p(bounded ? 2 : 1)}) AS l`,
    bounded ? [after, size] : [size],
  )
  return count === 0 ? undefined : {page: {first, last, rows: count}, rows}
}
