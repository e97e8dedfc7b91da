import {sql, type Kysely} from 'kysely'
import type {Dialect} from '../../db/database.js'

/* eslint-disable @typescript-eslint/no-explicit-any */

/** 64 MiB, as SQLite's negative cache_size means KiB. The default is 2 MiB. */
const MIGRATION_CACHE_KIB = 65_536

/**
 * Runs `work` with a larger SQLite page cache on the migration's connection,
 * then puts the previous size back. 0002 updates settings rows in legacy-row
 * order, which is random across the settings table, and reads back what it
 * wrote: with the default 2 MiB cache the same pages are read again and again
 * (a third of the write time at 100,000 rows). The cache fills only as pages
 * are used. PostgreSQL: nothing to do (shared buffers are the server's).
 */
export async function withMigrationPageCache<T>(db: Kysely<any>, dialect: Dialect, work: () => Promise<T>): Promise<T> {
  if (dialect !== 'sqlite') return work()
  const {rows} = await sql<{cache_size: number}>`PRAGMA cache_size`.execute(db)
  const previous = Number(rows[0]?.cache_size ?? -2000)
  if (previous < 0 && -previous >= MIGRATION_CACHE_KIB) return work()
  await sql.raw(`PRAGMA cache_size = -${MIGRATION_CACHE_KIB}`).execute(db)
  try {
    return await work()
  } finally {
    await sql.raw(`PRAGMA cache_size = ${Math.trunc(previous)}`).execute(db)
  }
}
