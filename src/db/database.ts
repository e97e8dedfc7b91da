import {Kysely, PostgresDialect, SqliteDialect, sql, type SqliteDatabase, type Transaction} from 'kysely'
import type BetterSqlite3 from 'better-sqlite3'
import type {Pool} from 'pg'
import {parseDatabaseUrl, type DatabaseTarget} from './database-url.js'
import {openSqlite} from './sqlite.js'
import {openPostgres} from './postgres.js'

export type Dialect = 'sqlite' | 'postgres'

/**
 * One open database, either dialect, behind one typed query builder. The raw
 * driver handle is exposed only for the few places that need it (bulk paths
 * in benchmarks, SQLite pragmas); everything else goes through `db`.
 */
export interface Database {
  readonly dialect: Dialect
  readonly target: DatabaseTarget
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly db: Kysely<any>
  readonly sqlite?: BetterSqlite3.Database
  readonly pool?: Pool
  close(): Promise<void>
}

export interface OpenDatabaseOptions {
  /** Create a missing SQLite file (migrate up); other commands refuse. */
  create?: boolean
  poolSize?: number
  busyTimeoutMs?: number
}

export async function openDatabase(url: string, options: OpenDatabaseOptions = {}): Promise<Database> {
  const target = parseDatabaseUrl(url)
  if (target.dialect === 'sqlite') {
    const handle = await openSqlite(target.path, {create: options.create ?? false, busyTimeoutMs: options.busyTimeoutMs})
    const db = new Kysely<any>({dialect: new SqliteDialect({database: withStatementCache(handle)})})
    return {
      dialect: 'sqlite',
      target,
      db,
      sqlite: handle,
      close: () => db.destroy(),
    }
  }
  const pool = await openPostgres(target.url, {display: target.display, poolSize: options.poolSize})
  const db = new Kysely<any>({dialect: new PostgresDialect({pool})})
  // Kysely takes the pool over only on its first query, and destroy() ends only a pool it took
  // over: a database closed unused would keep its idle connections, and the process, alive.
  const close = async () => {
    await db.destroy()
    if (!pool.ended) await pool.end()
  }
  return {dialect: 'postgres', target, db, pool, close}
}

/**
 * Runs `work` in one write transaction on one connection. SQLite takes the
 * write lock up front (`BEGIN IMMEDIATE`), so two writers queue on the busy
 * timeout instead of failing half-way; PostgreSQL DDL is transactional.
 */
export async function inWriteTransaction<T>(
  database: Database,
  work: (trx: Kysely<any>) => Promise<T>,
): Promise<T> {
  if (database.dialect === 'postgres') {
    return database.db.transaction().execute((trx: Transaction<any>) => work(trx))
  }
  return database.db.connection().execute(async (connection) => {
    await sql`BEGIN IMMEDIATE`.execute(connection)
    try {
      const result = await work(connection)
      await sql`COMMIT`.execute(connection)
      return result
    } catch (error) {
      await sql`ROLLBACK`.execute(connection).catch(() => {})
      throw error
    }
  })
}

/** Prepared statements kept per connection; enough for every distinct query of a migration. */
const STATEMENT_CACHE_SIZE = 100

/**
 * The better-sqlite3 handle as Kysely sees it, with prepared statements
 * reused by SQL text. Kysely prepares every query it runs; for the large
 * multi-row statements of a bulk migration, parsing again each time costs
 * more than running them. A statement still being iterated (a streamed
 * query) is never handed out twice: a fresh one is prepared instead.
 */
export function withStatementCache(handle: BetterSqlite3.Database, size = STATEMENT_CACHE_SIZE): SqliteDatabase {
  const cache = new Map<string, BetterSqlite3.Statement>()
  return {
    close: () => handle.close(),
    prepare(text) {
      const cached = cache.get(text)
      if (cached && !cached.busy) {
        // Most recently used last, so the oldest is evicted first.
        cache.delete(text)
        cache.set(text, cached)
        return cached
      }
      const statement = handle.prepare(text)
      if (!cached) {
        if (cache.size >= size) cache.delete(cache.keys().next().value!)
        cache.set(text, statement)
      }
      return statement
    },
  }
}
