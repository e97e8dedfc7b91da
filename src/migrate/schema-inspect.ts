import {sql, type Kysely} from 'kysely'
import type {Dialect} from '../db/database.js'

/**
 * Names of the user tables in the database (SQLite's own `sqlite_*` tables
 * excluded; PostgreSQL: the current schema only), sorted. Migrations use it to
 * decide between creating a schema and recognising an existing one.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function listTables(db: Kysely<any>, dialect: Dialect): Promise<string[]> {
  const query =
    dialect === 'sqlite'
      ? sql<{name: string}>`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name`
      : sql<{name: string}>`SELECT table_name AS name FROM information_schema.tables
          WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`
  const {rows} = await query.execute(db)
  return rows.map((row) => row.name)
}

/** Names of the indexes in the database (SQLite: user-created ones only; PostgreSQL: current schema). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function listIndexes(db: Kysely<any>, dialect: Dialect): Promise<string[]> {
  const query =
    dialect === 'sqlite'
      ? sql<{name: string}>`SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name`
      : sql<{name: string}>`SELECT indexname AS name FROM pg_indexes WHERE schemaname = current_schema() ORDER BY indexname`
  const {rows} = await query.execute(db)
  return rows.map((row) => row.name)
}

/** True when the table exists (same scope as listTables). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function tableExists(db: Kysely<any>, dialect: Dialect, table: string): Promise<boolean> {
  const query =
    dialect === 'sqlite'
      ? sql<{found: number}>`SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = ${table}`
      : sql<{found: number}>`SELECT 1 AS found FROM information_schema.tables
          WHERE table_schema = current_schema() AND table_name = ${table}`
  const {rows} = await query.execute(db)
  return rows.length > 0
}

/** Row count of a table whose name comes from code, never from input. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function countRows(db: Kysely<any>, table: string): Promise<number> {
  const {rows} = await sql<{n: number | string}>`SELECT COUNT(*) AS n FROM ${sql.table(table)}`.execute(db)
  return Number(rows[0]?.n ?? 0)
}
