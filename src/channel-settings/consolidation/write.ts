import {CompiledQuery, type Kysely} from 'kysely'
import type {Dialect} from '../../db/database.js'
import {chunk, rowsPerStatement} from './batches.js'
import {ARCHIVE_COLUMNS, SETTINGS_COLUMNS, type ComputedColumn, type ComputedRows} from './computed-columns.js'
import {TABLES} from './types.js'

/* eslint-disable @typescript-eslint/no-explicit-any */

/** A column or table name from code (never input), quoted for both dialects. */
function quote(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

/**
 * `(p, p, …), (p, p, …)` for `rows` rows of `columns` parameters: `?` on
 * SQLite, `$n` on PostgreSQL. `cast` wraps a column's parameter (PostgreSQL
 * types bare VALUES parameters as text).
 */
function valueTuples(dialect: Dialect, rows: number, columns: readonly string[], cast?: (column: string, parameter: string) => string): string {
  const tuples: string[] = new Array(rows)
  let n = 0
  for (let row = 0; row < rows; row++) {
    const cells = columns.map((column) => {
      const parameter = dialect === 'sqlite' ? '?' : `$${++n}`
      return cast ? cast(column, parameter) : parameter
    })
    tuples[row] = `(${cells.join(', ')})`
  }
  return tuples.join(', ')
}

/**
 * Runs SQL text that code built, with its parameters, on the migration's
 * connection. Bulk writes skip Kysely's query builder: for 100,000 rows its
 * per-value nodes cost more than the database does.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function execute<R = Record<string, unknown>>(db: Kysely<any>, text: string, parameters: unknown[]): Promise<R[]> {
  const result = await db.executeQuery<R>(CompiledQuery.raw(text, parameters))
  return result.rows as R[]
}

/** Multi-row INSERT in statements that stay under the dialect's bound-parameter limit. */
export async function insertRows(
  db: Kysely<any>,
  dialect: Dialect,
  table: string,
  columns: readonly string[],
  rows: readonly Record<string, unknown>[],
  returning?: readonly string[],
): Promise<Record<string, unknown>[]> {
  const head = `INSERT INTO ${quote(table)} (${columns.map(quote).join(', ')}) VALUES `
  const tail = returning ? ` RETURNING ${returning.map(quote).join(', ')}` : ''
  const out: Record<string, unknown>[] = []
  for (const part of chunk(rows, rowsPerStatement(dialect, columns.length))) {
    const parameters: unknown[] = new Array(part.length * columns.length)
    let at = 0
    for (const row of part) for (const column of columns) parameters[at++] = row[column] ?? null
    const returned = await execute(db, head + valueTuples(dialect, part.length, columns) + tail, parameters)
    if (returning) out.push(...returned)
  }
  return out
}

/**
 * A derived table over a page's computed rows (computed-columns.ts
 * ComputedRows), bound from parameter `first` on: on SQLite `jsonb_each`
 * over one JSONB array of tuples, a column per tuple position; on
 * PostgreSQL `unnest` over one binary array per column. One statement per
 * page however many rows, and no per-row parameters to build.
 */
function computedRows(dialect: Dialect, first: number, columns: readonly ComputedColumn[]): string {
  if (dialect === 'sqlite') {
    return `(SELECT ${columns.map((column, index) => `value ->> ${index} AS ${quote(column.name)}`).join(', ')} FROM jsonb_each(${placeholder(dialect, first)}))`
  }
  const arrays = columns.map((column, index) => `CAST($${first + index} AS ${column.integer ? 'integer' : 'text'}[])`)
  return `(SELECT * FROM unnest(${arrays.join(', ')}) AS u(${columns.map((column) => quote(column.name)).join(', ')}))`
}

/** The parameters computedRows reads. */
export function rowsParameters(rows: ComputedRows): unknown[] {
  return Array.isArray(rows) ? rows : [rows]
}

const placeholder = (dialect: Dialect, n: number) => (dialect === 'sqlite' ? '?' : `$${n}`)

const legacy = quote(TABLES.legacy)
const settings = quote(TABLES.settings)
const archive = quote(TABLES.archive)
/** 0002 sets verified_at from updated_at: v2 has no verification time, and its last update is the best bound there is. */
const VERIFIED_AT = 'CASE WHEN l.is_verified <> 0 THEN l.updated_at END'

/**
 * Writes the new columns of existing settings rows: computed values from the
 * batch (bound from parameter `first`), the rest copied from each row's
 * legacy row in SQL. Legacy columns, updated_at included, are not touched.
 * `UPDATE … FROM`, which SQLite (3.33+) and PostgreSQL both run.
 */
export function updateExistingSettingsSql(dialect: Dialect, first: number): string {
  return `UPDATE ${settings} SET provider_config_json = j.config, credentials_encrypted = j.credentials,
      messaging_service_sid = l.messaging_service_sid, webhook_url = l.webhook_url, webhook_secret_encrypted = j.secret,
      is_verified = l.is_verified, verified_at = ${VERIFIED_AT}, verification_error = l.verification_error
    FROM ${computedRows(dialect, first, SETTINGS_COLUMNS)} AS j JOIN ${legacy} AS l ON l.id = j.legacy_id
    WHERE ${settings}.id = j.settings_id`
}

/**
 * Creates the settings rows of pairs that had credentials but no settings
 * (computed values bound from parameter `first`): disabled (the operator
 * enables them), sender unset, with the ids the plan gave them
 * (select-live-rows.ts Plan.parse), which follow legacy id order.
 * OVERRIDING SYSTEM VALUE lets an explicit id into a GENERATED ALWAYS
 * identity too (for BY DEFAULT and serial it changes nothing); the sequence
 * is moved past them afterwards (state.ts).
 */
export function insertCreatedSettingsSql(dialect: Dialect, first: number): string {
  return `INSERT INTO ${settings} (id, tenant_id, channel, provider, is_enabled, created_at, updated_at, provider_config_json,
      credentials_encrypted, messaging_service_sid, webhook_url, webhook_secret_encrypted, is_verified, verified_at, verification_error)
    ${dialect === 'postgres' ? 'OVERRIDING SYSTEM VALUE' : ''}
    SELECT j.settings_id, l.tenant_id, l.channel, l.provider, 0, l.created_at, l.updated_at, j.config,
      j.credentials, l.messaging_service_sid, l.webhook_url, j.secret, l.is_verified, ${VERIFIED_AT}, l.verification_error
    FROM ${computedRows(dialect, first, SETTINGS_COLUMNS)} AS j JOIN ${legacy} AS l ON l.id = j.legacy_id`
}

/**
 * Archives every legacy row of the batch: the archive time is parameter
 * `first`, the computed values are bound after it. The legacy columns are
 * copied in SQL; the legacy value is kept as its IV (`legacy_iv`,
 * LEGACY_KEPT.iv) or verbatim (`legacy_ciphertext`), both cut from the
 * stored bytes by the database. A merged row's settings id, a created row's
 * included, comes from the plan (select-live-rows.ts Plan.parse).
 */
export function insertArchiveRowsSql(dialect: Dialect, first: number): string {
  return `INSERT INTO ${archive} (id, tenant_id, channel, provider, credentials_encrypted, messaging_service_sid, webhook_url,
      webhook_secret_encrypted, is_verified, verification_error, created_at, updated_at, legacy_iv, legacy_ciphertext, reason,
      settings_id, settings_created, archived_at)
    SELECT l.id, l.tenant_id, l.channel, l.provider, j.credentials, l.messaging_service_sid, l.webhook_url,
      j.secret, l.is_verified, l.verification_error, l.created_at, l.updated_at,
      CASE WHEN j.kept = 0 THEN substr(l.credentials_encrypted, 1, 32) END,
      CASE WHEN j.kept = 1 THEN l.credentials_encrypted END,
      j.reason,
      j.settings_id,
      j.created, CAST(${placeholder(dialect, first)} AS TEXT)
    FROM ${computedRows(dialect, first + 1, ARCHIVE_COLUMNS)} AS j JOIN ${legacy} AS l ON l.id = j.id`
}

/**
 * A page's computed columns as the writes bind them: the tuples convert.ts
 * describes (SettingsTuple for existing and created rows, ArchiveTuple),
 * encoded by the crypto worker for the dialect (computed-columns.ts
 * ComputedRows), or null when there are none.
 */
export interface PageWrites {
  updated: ComputedRows | null
  created: ComputedRows | null
  archive: ComputedRows | null
}

/** The page's writes, one statement each. */
export async function writePage(db: Kysely<any>, dialect: Dialect, writes: PageWrites, archivedAt: string): Promise<void> {
  if (writes.updated) await execute(db, updateExistingSettingsSql(dialect, 1), rowsParameters(writes.updated))
  if (writes.created) await execute(db, insertCreatedSettingsSql(dialect, 1), rowsParameters(writes.created))
  if (writes.archive) await execute(db, insertArchiveRowsSql(dialect, 1), [archivedAt, ...rowsParameters(writes.archive)])
}

/**
 * SQLite: deletes a page's legacy rows once it is written and read back,
 * and returns how many. secure_delete zeroes them now rather than at the
 * drop, and the pages they free are reused by the rows written after them:
 * the file grows by the new rows only (76 instead of 118 MB at 100,000
 * rows), and the commit writes a third fewer pages. The transaction still
 * holds them until the commit, so a later refusal or failed verification
 * gives them back. PostgreSQL: nothing (a delete there leaves dead rows to
 * vacuum, and the drop frees the whole table at once).
 */
export async function releaseLegacyPage(db: Kysely<any>, dialect: Dialect, first: number, last: number): Promise<number> {
  if (dialect !== 'sqlite') return 0
  const result = await db.deleteFrom(TABLES.legacy).where('id', '>=', first).where('id', '<=', last).executeTakeFirst()
  return Number(result.numDeletedRows)
}
