import type {Pool, PoolConfig} from 'pg'
import {DatabaseError} from '../errors/engage-error.js'

export interface OpenPostgresOptions {
  display: string
  poolSize?: number
  connectTimeoutMs?: number
}

/**
 * Opens a pg pool and proves it with one round trip, so an unreachable server
 * fails here with a clear message instead of inside the first migration.
 * `pg` is imported lazily: SQLite users never pay for it.
 */
export async function openPostgres(url: string, options: OpenPostgresOptions): Promise<Pool> {
  const pg = await import('pg')
  const PoolClass = pg.default?.Pool ?? (pg as unknown as {Pool: typeof Pool}).Pool
  const config: PoolConfig = {
    connectionString: url,
    max: options.poolSize ?? 5,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
  }
  const pool = new PoolClass(config)
  // An idle client losing its server must not crash the process; the next query reports it.
  pool.on('error', () => {})
  try {
    const client = await pool.connect()
    client.release()
  } catch (error) {
    await pool.end().catch(() => {})
    throw translatePostgresError(error, options.display)
  }
  return pool
}

export function translatePostgresError(error: unknown, display: string): DatabaseError {
  const code = (error as {code?: string}).code ?? ''
  const message = (error as Error).message ?? String(error)
  if (['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'EAI_AGAIN'].includes(code) || /timeout/i.test(message)) {
    return new DatabaseError(`Cannot reach PostgreSQL at ${display} (${code || message}).`, {
      code: 'DATABASE_UNREACHABLE',
      cause: error,
      suggestions: ['Check that the server is running and the host/port in --database-url are right.'],
    })
  }
  if (code === '3D000') {
    return new DatabaseError(`The database in ${display} does not exist.`, {
      code: 'DATABASE_NOT_FOUND',
      cause: error,
      suggestions: ['Create it first (createdb NAME), or fix the database name in the URL.'],
    })
  }
  if (code === '28P01' || code === '28000') {
    return new DatabaseError(`PostgreSQL refused the credentials for ${display}.`, {
      code: 'DATABASE_AUTH_FAILED',
      cause: error,
      suggestions: ['Check the user and password in --database-url.'],
    })
  }
  return new DatabaseError(`PostgreSQL error at ${display}: ${message}`, {code: 'DATABASE_ERROR', cause: error})
}
