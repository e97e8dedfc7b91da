import {Kysely, PostgresDialect, SqliteDialect, sql, type Transaction} from 'kysely'
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
    const db = new Kysely<any>({dialect: new SqliteDialect({database: handle})})
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
  return {dialect: 'postgres', target, db, pool, close: () => db.destroy()}
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
