import {RowHasher} from './canonical-row.js'
import type {PgClient, SqliteReader} from './schema-discovery.js'
import {quoteIdentifier, quoteList} from './sql-names.js'
import type {TableDigest, TablePlan} from './types.js'

/** Rows fetched per round trip while reading PostgreSQL for a checksum. */
const FETCH_ROWS = 20_000

/**
 * Row count and checksum of one SQLite table, rows in key order (SQLite's
 * BINARY order: bytes of UTF-8, NULLs first), streamed row by row.
 */
export function digestSqliteTable(sqlite: SqliteReader, plan: TablePlan): TableDigest {
  const order = plan.orderColumns.map(quoteIdentifier).join(', ')
  const statement = sqlite.prepare(`SELECT ${quoteList(plan.columns)} FROM ${quoteIdentifier(plan.table)} ORDER BY ${order}`).raw(true)
  const hasher = new RowHasher()
  for (const row of statement.iterate() as IterableIterator<unknown[]>) hasher.add(row)
  return hasher.digest()
}

/**
 * Row count and checksum of one PostgreSQL table, computed exactly as
 * `digestSqliteTable` does: the same column order, and rows in the same order
 * (text compared as bytes: COLLATE "C" unless the column's collation already
 * is byte order, in which case the primary key index serves the order; NULLs first), read through a
 * server-side cursor so the table never sits in memory.
 */
export async function digestPostgresTable(client: PgClient, plan: TablePlan): Promise<TableDigest> {
  const order = plan.orderColumns
    // Key columns are never NULL; leaving NULLS FIRST off them keeps the primary key index usable.
    .map((column) => `${quoteIdentifier(column)}${plan.collateC.includes(column) ? ' COLLATE "C"' : ''}${plan.sourceKey === 'rowid' ? ' NULLS FIRST' : ''}`)
    .join(', ')
  const hasher = new RowHasher()
  await client.query('BEGIN READ ONLY')
  try {
    // The byte-order sort of a large table is done in memory rather than spilled to disk.
    await client.query(`SET LOCAL work_mem = '256MB'`)
    await client.query(
      `DECLARE engage_copy_digest NO SCROLL CURSOR FOR SELECT ${quoteList(plan.columns)} FROM ${quoteIdentifier(plan.table)} ORDER BY ${order}`,
    )
    for (;;) {
      const {rows} = await client.query<unknown[]>({text: `FETCH ${FETCH_ROWS} FROM engage_copy_digest`, rowMode: 'array'})
      for (const row of rows) hasher.add(row)
      if (rows.length < FETCH_ROWS) break
    }
  } finally {
    await client.query('COMMIT').catch(() => {})
  }
  return hasher.digest()
}
