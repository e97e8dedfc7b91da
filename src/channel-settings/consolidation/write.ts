import {CompiledQuery, type Kysely} from 'kysely'
import type {Dialect} from '../../db/database.js'
import {chunk, rowsPerStatement} from './batches.js'
import type {SettingsWrite} from './convert.js'
import {NEW_SETTINGS_COLUMNS, TABLES, pairKey, type ArchiveRow} from './types.js'

/* eslint-disable @typescript-eslint/no-explicit-any */

const ARCHIVE_COLUMNS = [
  'id',
  'tenant_id',
  'channel',
  'provider',
  'credentials_encrypted',
  'messaging_service_sid',
  'webhook_url',
  'webhook_secret_encrypted',
  'is_verified',
  'verification_error',
  'created_at',
  'updated_at',
  'legacy_iv',
  'legacy_ciphertext',
  'reason',
  'settings_id',
  'settings_created',
  'archived_at',
] as const

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
async function execute<R = Record<string, unknown>>(db: Kysely<any>, text: string, parameters: unknown[]): Promise<R[]> {
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

export async function insertArchiveRows(db: Kysely<any>, dialect: Dialect, rows: readonly ArchiveRow[]): Promise<void> {
  await insertRows(db, dialect, TABLES.archive, ARCHIVE_COLUMNS, rows as unknown as Record<string, unknown>[])
}

const CREATED_SETTINGS_COLUMNS = ['tenant_id', 'channel', 'provider', 'is_enabled', 'created_at', 'updated_at', ...NEW_SETTINGS_COLUMNS]

/**
 * Creates the settings rows of pairs that had credentials but no settings:
 * disabled (the operator enables them), sender unset. Returns the new ids by
 * legacy row id.
 */
export async function insertCreatedSettings(
  db: Kysely<any>,
  dialect: Dialect,
  writes: readonly SettingsWrite[],
): Promise<Map<number, number>> {
  const idByLegacy = new Map<number, number>()
  const legacyByPair = new Map(writes.map((write) => [pairKey(write.tenant_id, write.channel), write.legacyId]))
  const rows = writes.map((write) => ({...write, is_enabled: 0}))
  const inserted = await insertRows(db, dialect, TABLES.settings, CREATED_SETTINGS_COLUMNS, rows, ['id', 'tenant_id', 'channel'])
  // RETURNING order is unspecified (SQLite says so): map by the unique (tenant, channel).
  for (const row of inserted) {
    idByLegacy.set(legacyByPair.get(pairKey(String(row.tenant_id), String(row.channel)))!, Number(row.id))
  }
  return idByLegacy
}

const INTEGER_COLUMNS = new Set(['id', 'is_verified'])

/**
 * Writes the new columns of existing settings rows, many rows per statement:
 * `WITH v(...) AS (VALUES ...) UPDATE ... FROM v`, which SQLite (3.33+) and
 * PostgreSQL both run. Legacy columns, updated_at included, are not touched.
 */
export async function updateExistingSettings(db: Kysely<any>, dialect: Dialect, writes: readonly SettingsWrite[]): Promise<void> {
  const columns = ['id', ...NEW_SETTINGS_COLUMNS] as const
  const cast = (column: string, parameter: string) => (INTEGER_COLUMNS.has(column) ? `CAST(${parameter} AS INTEGER)` : parameter)
  const assignments = NEW_SETTINGS_COLUMNS.map((column) => `${quote(column)} = v.${quote(column)}`).join(', ')
  const settings = quote(TABLES.settings)
  for (const part of chunk(writes, rowsPerStatement(dialect, columns.length))) {
    const parameters: unknown[] = []
    for (const write of part) {
      parameters.push(write.settingsId)
      for (const column of NEW_SETTINGS_COLUMNS) parameters.push(write[column])
    }
    await execute(
      db,
      `WITH v (${columns.map(quote).join(', ')}) AS (VALUES ${valueTuples(dialect, part.length, columns, cast)})
      UPDATE ${settings} SET ${assignments} FROM v WHERE ${settings}.id = v.id`,
      parameters,
    )
  }
}
