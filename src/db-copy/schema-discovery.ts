import type BetterSqlite3 from 'better-sqlite3'
import type {ClientBase} from 'pg'
import {TABLES as CONSOLIDATION_TABLES} from '../channel-settings/consolidation/types.js'
import {STORAGE_TABLE} from '../migrate/storage.js'
import {PROGRESS_TABLE} from './progress-store.js'
import type {TableShape} from './types.js'

/** The SQLite handle subset the copy reads through. */
export type SqliteReader = Pick<BetterSqlite3.Database, 'prepare'>
/** The PostgreSQL client subset the copy talks through. */
export type PgClient = Pick<ClientBase, 'query'>

/**
 * Tables that are engage's bookkeeping about the database they live in, never
 * copied: the migration history, the copy's own progress, and the facts 0002
 * recorded for its `down` (SQLite's CREATE TABLE text and sqlite_sequence,
 * or PostgreSQL sequence positions). The target's own `migrate up` wrote its
 * versions of these; the source's would be wrong there.
 */
export const NOT_COPIED: ReadonlySet<string> = new Set([STORAGE_TABLE, PROGRESS_TABLE, CONSOLIDATION_TABLES.state])

/**
 * Every user table of a SQLite database (`sqlite_*` excluded), read from its
 * catalog, so tables that later migrations add are found without a list.
 */
export function describeSqliteTables(sqlite: SqliteReader): TableShape[] {
  const names = sqlite
    .prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name`)
    .all() as {name: string}[]
  return names
    .map(({name}) => name)
    .filter((name) => !NOT_COPIED.has(name))
    .map((name) => {
      const columns = sqlite.prepare('SELECT name, type, pk FROM pragma_table_info(?) ORDER BY cid').all(name) as {
        name: string
        type: string
        pk: number
      }[]
      const references = sqlite.prepare('SELECT DISTINCT "table" AS parent FROM pragma_foreign_key_list(?)').all(name) as {parent: string}[]
      return {
        name,
        columns: columns.map((column) => ({name: column.name, type: column.type.toLowerCase()})),
        primaryKey: columns.filter((column) => column.pk > 0).sort((a, b) => a.pk - b.pk).map((column) => column.name),
        references: [...new Set(references.map((row) => row.parent))].filter((parent) => parent !== name),
      }
    })
}

const TEXT_TYPES = new Set(['text', 'character varying', 'character', 'name', 'citext'])
/** Collations that compare text as bytes of UTF-8, as SQLite's BINARY does (glibc's C.UTF-8 sorts by code point). */
const BYTE_ORDER_COLLATIONS = /^(c|posix|c\.utf-?8|ucs_basic)$/i

/** Every base table of the current PostgreSQL schema, with columns, primary key and foreign-key parents. */
export async function describePostgresTables(client: PgClient): Promise<TableShape[]> {
  const {rows: columns} = await client.query<{table_name: string; column_name: string; data_type: string; collation: string}>(
    `SELECT c.table_name, c.column_name, c.data_type,
            coalesce(c.collation_name, (SELECT datcollate FROM pg_database WHERE datname = current_database())) AS collation
       FROM information_schema.columns c
       JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
      WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
      ORDER BY c.table_name, c.ordinal_position`,
  )
  const {rows: keys} = await client.query<{table_name: string; column_name: string}>(
    `SELECT rel.relname AS table_name, att.attname AS column_name
       FROM pg_constraint con
       JOIN pg_class rel ON rel.oid = con.conrelid
       JOIN LATERAL unnest(con.conkey) WITH ORDINALITY AS k(attnum, position) ON true
       JOIN pg_attribute att ON att.attrelid = rel.oid AND att.attnum = k.attnum
      WHERE con.contype = 'p' AND rel.relnamespace = current_schema()::regnamespace
      ORDER BY rel.relname, k.position`,
  )
  const {rows: references} = await client.query<{table_name: string; parent: string}>(
    `SELECT DISTINCT rel.relname AS table_name, parent.relname AS parent
       FROM pg_constraint con
       JOIN pg_class rel ON rel.oid = con.conrelid
       JOIN pg_class parent ON parent.oid = con.confrelid
      WHERE con.contype = 'f' AND rel.relnamespace = current_schema()::regnamespace`,
  )
  const tables = new Map<string, TableShape>()
  for (const row of columns) {
    if (NOT_COPIED.has(row.table_name)) continue
    let table = tables.get(row.table_name)
    if (!table) tables.set(row.table_name, (table = {name: row.table_name, columns: [], primaryKey: [], references: []}))
    const type = row.data_type.toLowerCase()
    table.columns.push({name: row.column_name, type, byteOrdered: !TEXT_TYPES.has(type) || BYTE_ORDER_COLLATIONS.test(row.collation)})
  }
  for (const row of keys) tables.get(row.table_name)?.primaryKey.push(row.column_name)
  for (const row of references) {
    if (row.parent !== row.table_name) tables.get(row.table_name)?.references.push(row.parent)
  }
  return [...tables.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
}
