import {sql, type Kysely} from 'kysely'
import type {Dialect} from '../../db/database.js'
import {TABLES} from './types.js'

/* eslint-disable @typescript-eslint/no-explicit-any */

/**
 * Keeps other sessions from writing what 0002 reads, for the rest of the
 * migration's transaction. PostgreSQL runs READ COMMITTED: without these
 * locks a backend inserting a credential row after 0002 loaded them would
 * commit it into a table 0002 then drops, and the row would be lost. ACCESS
 * EXCLUSIVE up front (the ALTER and DROP need it anyway) rather than a weaker
 * lock upgraded later, which could deadlock with a reader turned writer;
 * `tenants` in SHARE ROW EXCLUSIVE mode, so no tenant appears or vanishes
 * (orphans are decided from it) while reads continue: SHARE would do for
 * that, but adding a foreign key back (rebuilt-constraints.ts) takes SHARE
 * ROW EXCLUSIVE, and taking it now rather than upgrading later cannot
 * deadlock with another holder of SHARE. SQLite needs nothing: the engine's
 * `BEGIN IMMEDIATE` already holds the database write lock.
 */
export async function lockConsolidationTables(db: Kysely<any>, dialect: Dialect, tables: readonly string[]): Promise<void> {
  if (dialect !== 'postgres') return
  await sql`LOCK TABLE ${sql.join(tables.map((table) => sql.table(table)))} IN ACCESS EXCLUSIVE MODE`.execute(db)
  await sql`LOCK TABLE ${sql.table('tenants')} IN SHARE ROW EXCLUSIVE MODE`.execute(db)
}

/** The tables `up` reads and rewrites. */
export const UP_TABLES = [TABLES.legacy, TABLES.settings] as const
/** The tables `down` reads and rewrites. */
export const DOWN_TABLES = [TABLES.archive, TABLES.state, TABLES.settings] as const
