/**
 * Migration 0001: the legacy EngageNinja schema (shared/legacy/schema.sql).
 *
 * - Empty database (none of the legacy tables): creates them with the
 *   contract's statements verbatim, so SQLite's sqlite_master holds exactly
 *   the production text.
 * - Database that already has every legacy table (a production database
 *   meeting engage for the first time): baseline. Nothing is created or
 *   touched; the engine only records 0001 as applied.
 * - Some legacy tables but not all: refused, naming what is missing; guessing
 *   how a half-made schema should be finished is not a migration's call.
 *
 * `down` would drop every backend table, so it refuses unless they are all
 * empty: reverting the baseline must never destroy production data. To start
 * over on a database with rows, delete it or restore a backup instead.
 */
import {sql} from 'kysely'
import {MigrationError} from '../src/errors/engage-error.js'
import {countRows, listIndexes, listTables} from '../src/migrate/schema-inspect.js'
import type {MigrationContext, MigrationReport} from '../src/migrate/types.js'
import {
  LEGACY_INDEXES,
  LEGACY_POSTGRES_STATEMENTS,
  LEGACY_SQLITE_STATEMENTS,
  LEGACY_TABLES,
} from '../src/schema/legacy-schema.js'

export async function up(context: MigrationContext): Promise<MigrationReport> {
  const existing = new Set(await listTables(context.db, context.dialect))
  const present = LEGACY_TABLES.filter((table) => existing.has(table))
  const missing = LEGACY_TABLES.filter((table) => !existing.has(table))

  if (missing.length === 0) {
    const indexes = new Set(await listIndexes(context.db, context.dialect))
    const missingIndexes = LEGACY_INDEXES.filter((index) => !indexes.has(index))
    if (missingIndexes.length > 0) {
      context.logger.warn(`Legacy indexes missing (queries may be slower; not created by the baseline): ${missingIndexes.join(', ')}`)
    }
    return {mode: 'baseline', tables: present.length, rowsTouched: 0, ...(missingIndexes.length ? {missingIndexes} : {})}
  }

  if (present.length > 0) {
    throw new MigrationError(
      `The database has only part of the legacy schema: ${present.join(', ')} exist, but ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing.`,
      {
        code: 'LEGACY_SCHEMA_INCOMPLETE',
        details: {present, missing},
        suggestions: [
          'Point --database-url at the complete EngageNinja database, or restore it from a backup.',
          'engage creates the legacy schema only on a database that has none of its tables.',
        ],
      },
    )
  }

  const statements = context.dialect === 'sqlite' ? LEGACY_SQLITE_STATEMENTS : LEGACY_POSTGRES_STATEMENTS
  for (const statement of statements) await sql.raw(statement).execute(context.db)
  return {mode: 'created', tables: LEGACY_TABLES.length, indexes: LEGACY_INDEXES.length}
}

export async function down(context: MigrationContext): Promise<MigrationReport> {
  const existing = new Set(await listTables(context.db, context.dialect))
  const tables = LEGACY_TABLES.filter((table) => existing.has(table))
  const nonEmpty: string[] = []
  for (const table of tables) {
    const rows = await countRows(context.db, table)
    if (rows > 0) nonEmpty.push(`${table} (${rows} row${rows === 1 ? '' : 's'})`)
  }
  if (nonEmpty.length > 0) {
    throw new MigrationError(
      `Refusing to revert 0001-legacy-baseline: it would drop the backend tables, and these hold data: ${nonEmpty.join(', ')}.`,
      {
        code: 'MIGRATION_DOWN_REFUSED',
        details: {nonEmpty},
        suggestions: [
          'Reverting the baseline is only allowed on an empty schema; nothing was changed.',
          'To start over, restore a backup or point --database-url at a new database.',
        ],
      },
    )
  }
  // Children before parents, so foreign keys never block a drop.
  for (const table of [...tables].reverse()) await sql`DROP TABLE ${sql.table(table)}`.execute(context.db)
  return {mode: 'dropped', tables: tables.length}
}
