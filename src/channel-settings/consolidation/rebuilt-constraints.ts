import {sql, type Kysely} from 'kysely'
import type {Dialect} from '../../db/database.js'

/* eslint-disable @typescript-eslint/no-explicit-any */

/** A constraint as PostgreSQL describes it, to add it back exactly. */
interface ConstraintDefinition {
  name: string
  definition: string
}

/**
 * The foreign keys and unique constraints of `table` that can be dropped and
 * added back: a unique constraint that another table's foreign key relies on
 * cannot be dropped, so none is while any foreign key points at the table.
 */
async function rebuildableConstraints(db: Kysely<any>, table: string): Promise<ConstraintDefinition[]> {
  const {rows} = await sql<ConstraintDefinition>`SELECT conname AS name, pg_get_constraintdef(oid) AS definition FROM pg_constraint
    WHERE conrelid = CAST(${table} AS regclass)
      AND (contype = 'f' OR (contype = 'u' AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE confrelid = CAST(${table} AS regclass))))
    ORDER BY conname`.execute(db)
  return rows
}

/**
 * PostgreSQL, when 0002 writes at least as many rows as `table` holds: runs
 * `work` with the table's foreign keys and unique constraints dropped, then
 * adds them back, as PostgreSQL's "Populating a Database" advises for bulk
 * loads. Each row written would otherwise fire a trigger that looks its
 * tenant up and locks it (a query, a row lock and its WAL record per row)
 * and add an entry to the unique index (for an updated row too: it cannot
 * stay on its full page). Adding them back checks every row at once, in one
 * join and one sorted index build, and fails the migration (its transaction
 * then rolls back, the drop with it) if any row breaks one. Each is added
 * back as `pg_get_constraintdef` described it, under its own name.
 *
 * Not when the table is the larger: adding back costs about a
 * microsecond per row of the whole table, so a few legacy rows beside a
 * large table would pay more than they save. SQLite checks its foreign keys
 * per row and cannot drop a constraint without rebuilding the table.
 *
 * The ACCESS EXCLUSIVE lock 0002 holds on the table keeps every other
 * session out while the constraints are gone; adding the foreign key back
 * needs SHARE ROW EXCLUSIVE on `tenants`, which locks.ts takes up front.
 */
export async function withConstraintsRebuilt<T>(
  db: Kysely<any>,
  dialect: Dialect,
  table: string,
  rowsWritten: {legacyRows: number; tableRows: number},
  work: () => Promise<T>,
): Promise<T> {
  if (dialect !== 'postgres' || rowsWritten.legacyRows === 0 || rowsWritten.legacyRows < rowsWritten.tableRows) return work()
  const constraints = await rebuildableConstraints(db, table)
  for (const constraint of constraints) {
    await sql`ALTER TABLE ${sql.table(table)} DROP CONSTRAINT ${sql.id(constraint.name)}`.execute(db)
  }
  // Not on failure: the transaction is then aborted, and its rollback gives the constraints back.
  const result = await work()
  for (const constraint of constraints) {
    await sql`ALTER TABLE ${sql.table(table)} ADD CONSTRAINT ${sql.id(constraint.name)} ${sql.raw(constraint.definition)}`.execute(db)
  }
  return result
}
