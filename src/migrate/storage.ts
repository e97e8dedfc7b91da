import type {Kysely} from 'kysely'
import type {Dialect} from '../db/database.js'
import {tableExists} from './schema-inspect.js'

/** The table where engage records applied migrations. Only the migration engine writes it. */
export const STORAGE_TABLE = 'engage_migrations'

/** One row of `engage_migrations`. */
export interface MigrationRecord {
  name: string
  /** SHA-256 (hex) of the migration's source file when it was applied. */
  checksum: string
  /** ISO-8601 UTC. */
  appliedAt: string
  durationMs: number
  /** ENGAGE_OPERATOR, or user@hostname. */
  appliedBy: string
}

/**
 * Creates the storage table when missing. Called inside each migration's
 * write transaction, so a dry run or a failed first migration leaves no table.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function ensureStorageTable(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable(STORAGE_TABLE)
    .ifNotExists()
    .addColumn('name', 'text', (column) => column.primaryKey())
    .addColumn('checksum', 'text', (column) => column.notNull())
    .addColumn('applied_at', 'text', (column) => column.notNull())
    .addColumn('duration_ms', 'integer', (column) => column.notNull())
    .addColumn('applied_by', 'text', (column) => column.notNull())
    .execute()
}

/** Every record, by name. A database without the table has none (nothing was ever applied). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function readRecords(db: Kysely<any>, dialect: Dialect): Promise<MigrationRecord[]> {
  if (!(await tableExists(db, dialect, STORAGE_TABLE))) return []
  const rows = await db.selectFrom(STORAGE_TABLE).selectAll().orderBy('name').execute()
  return rows.map((row) => ({
    name: String(row.name),
    checksum: String(row.checksum),
    appliedAt: String(row.applied_at),
    durationMs: Number(row.duration_ms),
    appliedBy: String(row.applied_by),
  }))
}

/** Inside a write transaction: has another run recorded this migration since we looked? */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function hasRecord(trx: Kysely<any>, name: string): Promise<boolean> {
  const row = await trx.selectFrom(STORAGE_TABLE).select('name').where('name', '=', name).executeTakeFirst()
  return row !== undefined
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function insertRecord(trx: Kysely<any>, record: MigrationRecord): Promise<void> {
  await trx
    .insertInto(STORAGE_TABLE)
    .values({
      name: record.name,
      checksum: record.checksum,
      applied_at: record.appliedAt,
      duration_ms: record.durationMs,
      applied_by: record.appliedBy,
    })
    .execute()
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function deleteRecord(trx: Kysely<any>, name: string): Promise<void> {
  await trx.deleteFrom(STORAGE_TABLE).where('name', '=', name).execute()
}
