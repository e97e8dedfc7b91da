import {sql, type Kysely} from 'kysely'
import type {Dialect} from '../../db/database.js'
import {selectPage, type PageColumn} from './page-rows.js'
import {PAGE_ROW_FIELDS, TABLES, type PageRow, type PageRows} from './types.js'
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
 * The plan, computed by the database in one pass before the first write: for
 * every legacy row, in id order, `id, live, tenant exists, settings id`, all
 * in one flat JSON array of numbers that the workers parse
 * (select-live-rows.ts Plan.parse): text the database concatenates, which
 * costs it less than building JSON values, and one array rather than one
 * per row for each worker to parse. The live row of each (tenant, channel)
 * pair is its newest `updated_at`, then highest id. Timestamps compare as
 * bytes (SQLite's BINARY collation; PostgreSQL's "C"), as the backend's
 * `ORDER BY updated_at DESC, id DESC` on SQLite does. Liveness does not
 * depend on whether a row decrypts: an undecryptable live row leaves its
 * pair without credentials rather than promoting an older, superseded set.
 * The settings id is the pair's row from before the migration. Looked up
 * once here rather than per page: PostgreSQL hashes both tables for each
 * page's join.
 */
export async function loadPlan(db: Kysely<any>, dialect: Dialect): Promise<string> {
  // PostgreSQL: "C" throughout the window's sort, which then compares bytes where the database's
  // collation would call strcoll (an eighth of the plan's time at 100,000 rows). The pairs are the
  // same: a deterministic collation, as a database's default always is, calls two texts equal only
  // when their bytes are.
  const bytes = (column: string) => (dialect === 'sqlite' ? column : `${column} COLLATE "C"`)
  const values = `r.id || ',' || CASE WHEN r.rank = 1 THEN 1 ELSE 0 END || ',' || CASE WHEN t.id IS NULL THEN 0 ELSE 1 END || ',' || COALESCE(CAST(s.id AS TEXT), 'null')`
  // string_agg with ORDER BY: PostgreSQL, and SQLite from 3.44 (better-sqlite3 12 bundles 3.5x).
  const [row] = await execute<{plan: string | null}>(
    db,
    `SELECT '[' || string_agg(${values}, ',' ORDER BY r.id) || ']' AS plan
    FROM (SELECT id, tenant_id, channel, ROW_NUMBER() OVER (PARTITION BY ${bytes('tenant_id')}, ${bytes('channel')} ORDER BY ${bytes('updated_at')} DESC, id DESC) AS rank
      FROM "${TABLES.legacy}") AS r
    LEFT JOIN "tenants" AS t ON t.id = r.tenant_id
    LEFT JOIN "${TABLES.settings}" AS s ON s.tenant_id = r.tenant_id AND s.channel = r.channel`,
    [],
  )
  return row?.plan ?? '[]'
}

/** A run of consecutive legacy rows (in id order) decrypted, converted, written and verified together. */
export interface LegacyPage {
  first: number
  last: number
  rows: number
}

const PAGE_COLUMNS: readonly PageColumn[] = PAGE_ROW_FIELDS.map((field) => [field, `l.${field}`] as const)

/**
 * The next page of at most `size` legacy rows after id `after` (the first
 * page when undefined; PageRows, selectPage's shape), undefined after the
 * last page.
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
