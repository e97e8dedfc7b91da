import type {ClientBase} from 'pg'
import {quoteIdentifier} from './sql-names.js'

type PgClient = Pick<ClientBase, 'query'>

/**
 * The copy's bookkeeping on the target: one row per table with the key of
 * the last committed batch. Each batch's rows and its progress row commit in
 * one statement, so after a kill the table says exactly which rows are in.
 * The command creates it and drops it once every table is copied: the target
 * then holds exactly the schema `engage migrate up` made (status, schema
 * checks and dumps see nothing of the copy), and a finished copy is
 * recognised later by its checksums, not by a leftover flag.
 */
export const PROGRESS_TABLE = 'engage_copy_progress'

export interface TableProgress {
  table: string
  /** The key values of the last copied row (JSON array), or null before the first batch. */
  lastKey: unknown[] | null
  rowsCopied: number
  finished: boolean
  sourceFingerprint: string
}

export async function progressTableExists(client: PgClient): Promise<boolean> {
  const {rows} = await client.query(`SELECT to_regclass($1) IS NOT NULL AS present`, [quoteIdentifier(PROGRESS_TABLE)])
  return Boolean(rows[0]?.present)
}

export async function readProgress(client: PgClient): Promise<TableProgress[]> {
  const {rows} = await client.query<{
    table_name: string
    last_key: string | null
    rows_copied: string
    finished: boolean
    source_fingerprint: string
  }>(`SELECT table_name, last_key, rows_copied, finished, source_fingerprint FROM ${PROGRESS_TABLE} ORDER BY position`)
  return rows.map((row) => ({
    table: row.table_name,
    lastKey: row.last_key === null ? null : (JSON.parse(row.last_key) as unknown[]),
    rowsCopied: Number(row.rows_copied),
    finished: row.finished,
    sourceFingerprint: row.source_fingerprint,
  }))
}

/** Creates the table with one unstarted row per table; run inside the transaction that also truncates, if any. */
export async function createProgress(client: PgClient, tables: readonly string[], sourceFingerprint: string): Promise<void> {
  await client.query(
    `CREATE TABLE ${PROGRESS_TABLE} (
      table_name TEXT PRIMARY KEY,
      position INTEGER NOT NULL,
      last_key TEXT,
      rows_copied BIGINT NOT NULL DEFAULT 0,
      finished BOOLEAN NOT NULL DEFAULT false,
      source_fingerprint TEXT NOT NULL,
      updated_at TEXT NOT NULL
    )`,
  )
  const now = new Date().toISOString()
  for (const [position, table] of tables.entries()) {
    await client.query(
      `INSERT INTO ${PROGRESS_TABLE} (table_name, position, source_fingerprint, updated_at) VALUES ($1, $2, $3, $4)`,
      [table, position, sourceFingerprint, now],
    )
  }
}

export async function markFinished(client: PgClient, table: string): Promise<void> {
  await client.query(`UPDATE ${PROGRESS_TABLE} SET finished = true, updated_at = $2 WHERE table_name = $1`, [table, new Date().toISOString()])
}

export async function dropProgress(client: PgClient): Promise<void> {
  await client.query(`DROP TABLE IF EXISTS ${PROGRESS_TABLE}`)
}
