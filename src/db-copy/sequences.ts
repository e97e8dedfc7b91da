import type {PgClient, SqliteReader} from './schema-discovery.js'
import {quoteIdentifier} from './sql-names.js'
import type {TablePlan} from './types.js'

/** A serial/identity sequence after the reset: the value the next insert gets is `next`. */
export interface SequenceReset {
  table: string
  column: string
  sequence: string
  next: number
}

/**
 * The ids SQLite's AUTOINCREMENT already handed out per table
 * (sqlite_sequence): it can be ahead of max(id) after deletes, and an id once
 * used must not be handed out again by PostgreSQL.
 */
export function sqliteSequencePositions(sqlite: SqliteReader): Map<string, number> {
  const present = sqlite.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'`).get()
  if (!present) return new Map()
  const rows = sqlite.prepare('SELECT name, seq FROM sqlite_sequence').all() as {name: string; seq: number}[]
  return new Map(rows.map((row) => [row.name, Number(row.seq)]))
}

/**
 * Moves every serial/identity sequence of the copied tables past the highest
 * copied id (and past SQLite's AUTOINCREMENT position), so the first insert
 * after the copy does not collide with a copied row. Idempotent.
 */
export async function resetSequences(
  client: PgClient,
  plans: readonly TablePlan[],
  sqlitePositions: ReadonlyMap<string, number>,
): Promise<SequenceReset[]> {
  const resets: SequenceReset[] = []
  for (const plan of plans) {
    for (const column of plan.columns) {
      if (!['integer', 'bigint', 'smallint'].includes(plan.targetTypes[column] ?? '')) continue
      const {rows} = await client.query<{sequence: string | null}>(`SELECT pg_get_serial_sequence($1, $2) AS sequence`, [
        quoteIdentifier(plan.table),
        column,
      ])
      const sequence = rows[0]?.sequence
      if (!sequence) continue
      const {rows: max} = await client.query<{max: string | null}>(
        `SELECT max(${quoteIdentifier(column)})::text AS max FROM ${quoteIdentifier(plan.table)}`,
      )
      const highest = Math.max(Number(max[0]?.max ?? 0), sqlitePositions.get(plan.table) ?? 0)
      if (highest > 0) await client.query('SELECT setval($1::regclass, $2, true)', [sequence, highest])
      else await client.query('SELECT setval($1::regclass, 1, false)', [sequence])
      resets.push({table: plan.table, column, sequence, next: highest + 1})
    }
  }
  return resets
}
