import {sql, type Kysely, type RawBuilder} from 'kysely'
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

/** Multi-row INSERT in statements that stay under the dialect's bound-parameter limit. */
export async function insertRows(
  db: Kysely<any>,
  dialect: Dialect,
  table: string,
  columns: readonly string[],
  rows: readonly Record<string, unknown>[],
): Promise<void> {
  for (const part of chunk(rows, rowsPerStatement(dialect, columns.length))) {
    const values = part.map((row) => Object.fromEntries(columns.map((column) => [column, row[column] ?? null])))
    await db.insertInto(table).values(values).execute()
  }
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
  for (const part of chunk(writes, rowsPerStatement(dialect, CREATED_SETTINGS_COLUMNS.length))) {
    const values = part.map((write) => ({
      tenant_id: write.tenant_id,
      channel: write.channel,
      provider: write.provider,
      is_enabled: 0,
      created_at: write.created_at,
      updated_at: write.updated_at,
      ...Object.fromEntries(NEW_SETTINGS_COLUMNS.map((column) => [column, write[column]])),
    }))
    // RETURNING order is unspecified (SQLite says so): map by the unique (tenant, channel).
    const inserted = await db.insertInto(TABLES.settings).values(values).returning(['id', 'tenant_id', 'channel']).execute()
    for (const row of inserted) {
      idByLegacy.set(legacyByPair.get(pairKey(String(row.tenant_id), String(row.channel)))!, Number(row.id))
    }
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
  for (const part of chunk(writes, rowsPerStatement(dialect, columns.length))) {
    const tuples: RawBuilder<unknown>[] = part.map((write) => {
      const cells = columns.map((column) => {
        const value = column === 'id' ? write.settingsId : write[column]
        // PostgreSQL types bare VALUES parameters as text; integers need a cast to compare and assign.
        return INTEGER_COLUMNS.has(column) ? sql`CAST(${value} AS INTEGER)` : sql`${value}`
      })
      return sql`(${sql.join(cells)})`
    })
    const assignments = NEW_SETTINGS_COLUMNS.map((column) => sql`${sql.ref(column)} = v.${sql.ref(column)}`)
    await sql`WITH v (${sql.join(columns.map((column) => sql.ref(column)))}) AS (VALUES ${sql.join(tuples)})
      UPDATE ${sql.table(TABLES.settings)} SET ${sql.join(assignments)}
      FROM v WHERE ${sql.table(TABLES.settings)}.id = v.id`.execute(db)
  }
}
