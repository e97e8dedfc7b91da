import {sql, type Kysely} from 'kysely'
import type {Dialect} from '../../db/database.js'

/* eslint-disable @typescript-eslint/no-explicit-any */

/**
 * 256 MiB, as SQLite's negative cache_size means KiB (the default is 2 MiB):
 * room for every page 0002 dirties at 100,000 legacy rows (about 130 MiB:
 * the archive, the grown settings rows and the legacy pages secure_delete
 * zeroes as 0002 releases them), so none is written to the WAL and read back before the commit.
 * The cache fills only as pages are used.
 */
const MIGRATION_CACHE_KIB = 262_144

/**
 * Runs 0002's page work with its connection tuned for it, then puts the
 * previous settings back (a dry run shares its transaction with the
 * migrations after it).
 *
 * SQLite: a larger page cache. 0002 updates settings rows in legacy-row
 * order, which is random across the settings table, reads back what it wrote
 * and zeroes the legacy pages it releases: with a small cache, dirty pages
 * spill to the WAL mid-transaction and are read back and written again
 * (with 64 MiB, zeroing the legacy table took three times as long).
 *
 * PostgreSQL: no hash joins. A page's statements join a few thousand rows
 * (the page's `unnest`ed arrays, whose length the planner sees) to tables
 * by primary key. Given the exact row count, the planner hashed the whole
 * settings table for every page's update (11 ms a page at 60,000 settings
 * rows, and growing with the table, so quadratic over a large migration)
 * where an index lookup per row costs a fraction. SET LOCAL, so it ends with
 * the transaction at the latest.
 */
export async function withMigrationTuning<T>(db: Kysely<any>, dialect: Dialect, work: () => Promise<T>): Promise<T> {
  if (dialect === 'postgres') return withPostgresSetting(db, 'enable_hashjoin', 'off', work)
  const {rows} = await sql<{cache_size: number}>`PRAGMA cache_size`.execute(db)
  const previous = Math.trunc(Number(rows[0]?.cache_size ?? -2000))
  if (previous < 0 && -previous >= MIGRATION_CACHE_KIB) return work()
  await sql.raw(`PRAGMA cache_size = -${MIGRATION_CACHE_KIB}`).execute(db)
  try {
    return await work()
  } finally {
    await sql.raw(`PRAGMA cache_size = ${previous}`).execute(db)
  }
}

/**
 * Runs `work` with a PostgreSQL setting changed for the transaction, then
 * sets it back. Not on failure: the transaction is then aborted (it takes no
 * statement) and its rollback ends the SET LOCAL anyway.
 */
async function withPostgresSetting<T>(db: Kysely<any>, name: string, value: string, work: () => Promise<T>): Promise<T> {
  const {rows} = await sql<{previous: string}>`SELECT current_setting(${name}) AS previous`.execute(db)
  const set = (to: string) => sql`SELECT set_config(${name}, ${to}, true)`.execute(db)
  await set(value)
  const result = await work()
  await set(rows[0]!.previous)
  return result
}
