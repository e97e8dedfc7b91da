/**
 * 0003: `message_status_events.status_reason` (why a provider reported the
 * status, e.g. an SES bounce subtype) and an index on
 * `messages.provider_message_id`, which status webhooks look messages up by.
 */
import {sql, type Kysely} from 'kysely'
import {MigrationError} from '../src/errors/engage-error.js'
import type {MigrationContext} from '../src/migrate/types.js'

/* eslint-disable @typescript-eslint/no-explicit-any */

const TABLE = 'message_status_events'
const INDEX = 'idx_messages_provider_message_id'
/** Exactly the text SQLite appends to the table's sqlite_master entry, so down can take it out again. */
const ADDED_COLUMN = ', status_reason TEXT'

export async function up({db}: MigrationContext): Promise<void> {
  await sql`ALTER TABLE message_status_events ADD COLUMN status_reason TEXT`.execute(db)
  await sql`CREATE INDEX idx_messages_provider_message_id ON messages (provider_message_id)`.execute(db)
}

export async function down({db, dialect}: MigrationContext): Promise<void> {
  await sql`DROP INDEX ${sql.ref(INDEX)}`.execute(db)
  if (dialect === 'postgres') {
    await sql`ALTER TABLE message_status_events DROP COLUMN status_reason`.execute(db)
    return
  }
  const before = await createSql(db, TABLE)
  const at = before.lastIndexOf(ADDED_COLUMN)
  if (at < 0 || before.slice(at + ADDED_COLUMN.length).trim() !== ')') {
    throw new MigrationError(`${TABLE}'s definition does not end with the column 0003 added; it was changed since.`, {
      code: 'MIGRATION_DEFINITION_CHANGED',
      suggestions: ['Compare sqlite_master with the legacy contract before reverting 0003.'],
    })
  }
  const expected = before.slice(0, at) + before.slice(at + ADDED_COLUMN.length)
  await sql`ALTER TABLE message_status_events DROP COLUMN status_reason`.execute(db)
  // SQLite 3.35+ restores the text exactly; should a build not, rebuild so sqlite_master matches byte for byte.
  if ((await createSql(db, TABLE)) !== expected) await rebuildSqliteTable(db, TABLE, expected)
}

async function createSql(db: Kysely<any>, name: string): Promise<string> {
  const {rows} = await sql<{sql: string}>`SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ${name}`.execute(db)
  return rows[0]!.sql
}

/**
 * Recreates a SQLite table from the given CREATE TABLE text, keeping rows,
 * indexes and the AUTOINCREMENT position. Safe inside the migration
 * transaction with foreign keys on as long as no other table references it
 * (true of message_status_events).
 */
export async function rebuildSqliteTable(db: Kysely<any>, table: string, createText: string): Promise<void> {
  const scratch = `_engage_rebuild_${table}`
  const {rows: indexes} = await sql<{sql: string}>`SELECT sql FROM sqlite_master
    WHERE type = 'index' AND tbl_name = ${table} AND sql IS NOT NULL ORDER BY name`.execute(db)
  const {rows: sequence} = await sql<{seq: number}>`SELECT seq FROM sqlite_sequence WHERE name = ${table}`.execute(db)
  await sql`ALTER TABLE ${sql.table(table)} RENAME TO ${sql.table(scratch)}`.execute(db)
  await sql.raw(createText).execute(db)
  const {rows: columns} = await sql<{name: string}>`SELECT name FROM pragma_table_info(${table})`.execute(db)
  const list = sql.join(columns.map((column) => sql.ref(column.name)))
  await sql`INSERT INTO ${sql.table(table)} (${list}) SELECT ${list} FROM ${sql.table(scratch)}`.execute(db)
  await sql`DROP TABLE ${sql.table(scratch)}`.execute(db)
  for (const index of indexes) await sql.raw(index.sql).execute(db)
  await sql`DELETE FROM sqlite_sequence WHERE name = ${table}`.execute(db)
  if (sequence[0]) await sql`INSERT INTO sqlite_sequence (name, seq) VALUES (${table}, ${sequence[0].seq})`.execute(db)
}
