import {sql, type Kysely} from 'kysely'
import {MigrationError} from '../errors/engage-error.js'
import {rebuildSqliteTable} from '../../migrations/0003-status-reason-and-provider-message-index.js'

/* eslint-disable @typescript-eslint/no-explicit-any */

/**
 * A column a migration appended with `ALTER TABLE … ADD COLUMN`: its name and
 * the definition text exactly as written after the name. SQLite stores
 * `, <name> <definition>` at the end of the table's sqlite_master text, so a
 * down migration knows precisely what text to take out again.
 */
export interface AddedColumn {
  name: string
  definition: string
}

/** The CREATE TABLE text SQLite keeps for `table` in sqlite_master. */
export async function sqliteCreateSql(db: Kysely<any>, table: string): Promise<string> {
  const {rows} = await sql<{sql: string}>`SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ${table}`.execute(db)
  if (!rows[0]) throw new MigrationError(`Table ${table} does not exist.`, {code: 'MIGRATION_DEFINITION_CHANGED'})
  return rows[0].sql
}

/** `ALTER TABLE table ADD COLUMN name definition`, in the exact words {@link dropAddedSqliteColumns} later removes. */
export async function addColumns(db: Kysely<any>, table: string, columns: readonly AddedColumn[]): Promise<void> {
  for (const column of columns) {
    await sql.raw(`ALTER TABLE ${table} ADD COLUMN ${column.name} ${column.definition}`).execute(db)
  }
}

/**
 * Drops columns a migration appended (given in the order they were added) so
 * the table's sqlite_master text is byte for byte what it was before. The
 * text must still end with exactly those columns, otherwise someone changed
 * the table since and guessing would be worse than stopping. SQLite 3.35+
 * restores the text exactly on DROP COLUMN; should a build not, tables that
 * nothing references are rebuilt with migration 0003's rebuildSqliteTable,
 * and referenced ones (renaming them would repoint other tables' foreign
 * keys) stop with an error. Indexes on the columns must be dropped first.
 */
export async function dropAddedSqliteColumns(
  db: Kysely<any>,
  table: string,
  columns: readonly AddedColumn[],
  migration: string,
): Promise<void> {
  const current = await sqliteCreateSql(db, table)
  const suffix = columns.map((column) => `, ${column.name} ${column.definition}`).join('')
  const body = current.trimEnd()
  if (!body.endsWith(`${suffix})`)) {
    throw new MigrationError(`${table}'s definition does not end with the columns ${migration} added; it was changed since.`, {
      code: 'MIGRATION_DEFINITION_CHANGED',
      details: {table, migration},
      suggestions: [`Compare sqlite_master with the legacy contract before reverting ${migration}.`],
    })
  }
  const expected = body.slice(0, body.length - suffix.length - 1) + ')' + current.slice(body.length)
  for (const column of [...columns].reverse()) {
    await sql`ALTER TABLE ${sql.table(table)} DROP COLUMN ${sql.ref(column.name)}`.execute(db)
  }
  if ((await sqliteCreateSql(db, table)) === expected) return
  if (await isReferenced(db, table)) {
    throw new MigrationError(`SQLite did not restore ${table}'s definition exactly after dropping ${migration}'s columns.`, {
      code: 'MIGRATION_DEFINITION_CHANGED',
      details: {table, migration},
      suggestions: ['Use an engage build whose SQLite is 3.35 or newer, or restore a backup.'],
    })
  }
  await rebuildSqliteTable(db, table, expected)
}

async function isReferenced(db: Kysely<any>, table: string): Promise<boolean> {
  const {rows} = await sql<{found: number}>`SELECT 1 AS found FROM sqlite_master AS m, pragma_foreign_key_list(m.name) AS fk
    WHERE m.type = 'table' AND m.name <> ${table} AND fk."table" = ${table} LIMIT 1`.execute(db)
  return rows.length > 0
}
