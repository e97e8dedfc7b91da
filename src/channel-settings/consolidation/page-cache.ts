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
 * Runs `work` with a larger SQLite page cache on the migration's connection,
 * then puts the previous size back. 0002 updates settings rows in legacy-row
 * order, which is random across the settings table, reads back what it wrote
 * and zeroes the legacy pages it releases: with a small cache, dirty pages
 * spill to the WAL mid-transaction and are read back and written again
 * (with 64 MiB, zeroing the legacy table took three times as long). PostgreSQL:
 * nothing to do (shared buffers are the server's).
 */
export async function withMigrationPageCache<T>(db: Kysely<any>, dialect: Dialect, work: () => Promise<T>): Promise<T> {
  if (dialect !== 'sqlite') return work()
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
