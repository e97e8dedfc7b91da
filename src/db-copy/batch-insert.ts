import {PROGRESS_TABLE} from './progress-store.js'
import type {PgClient} from './schema-discovery.js'
import {quoteIdentifier, quoteList} from './sql-names.js'
import type {TablePlan} from './types.js'

/**
 * The statement that writes one batch: the rows arrive as one JSON array
 * parameter expanded by json_populate_recordset (no 65,535-parameter limit,
 * one parse per batch, and PostgreSQL converts each field to the column's
 * type), and the same statement advances the table's progress row. One
 * statement is one transaction: a batch and its progress commit together or
 * not at all, so a killed run resumes after the last committed batch and no
 * row is written twice.
 */
export function batchInsertSql(plan: TablePlan): string {
  const table = quoteIdentifier(plan.table)
  const columns = quoteList(plan.columns)
  // The rows go in only if the progress row moved with them (EXISTS): a missing progress row writes nothing.
  return `WITH progress AS (
  UPDATE ${PROGRESS_TABLE}
     SET last_key = $2, rows_copied = rows_copied + $5, updated_at = $3
   WHERE table_name = $4
  RETURNING rows_copied
), copied AS (
  INSERT INTO ${table} (${columns})
  SELECT ${columns} FROM json_populate_recordset(NULL::${table}, $1::json)
   WHERE EXISTS (SELECT 1 FROM progress)
  RETURNING 1
)
SELECT (SELECT rows_copied FROM progress) AS rows_copied, (SELECT count(*) FROM copied) AS inserted`
}

/** Sends one batch (serialised as a JSON array of row objects); resolves to the table's rows copied so far. */
export async function insertBatch(
  client: PgClient,
  sql: string,
  plan: TablePlan,
  batch: {json: string; rows: number; lastKey: unknown[]},
): Promise<number> {
  const {rows} = await client.query<{rows_copied: string | null; inserted: string}>(sql, [
    batch.json,
    JSON.stringify(batch.lastKey),
    new Date().toISOString(),
    plan.table,
    batch.rows,
  ])
  const result = rows[0]
  if (!result || result.rows_copied === null || Number(result.inserted) !== batch.rows) {
    throw new Error(`The progress row of ${plan.table} is missing from ${PROGRESS_TABLE}; the batch was not written.`)
  }
  return Number(result.rows_copied)
}
