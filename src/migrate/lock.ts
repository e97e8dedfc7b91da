import type {PoolClient} from 'pg'
import type {Database} from '../db/database.js'
import {translatePostgresError} from '../db/postgres.js'
import {DatabaseError} from '../errors/engage-error.js'

/** Arbitrary but fixed: every engage process agrees on it ("engage" in ASCII). */
export const MIGRATION_LOCK_KEY = '111542260639589'
const POLL_MS = 100

export interface RunLock {
  release(): Promise<void>
}

/**
 * Serialises migration runs. PostgreSQL: a session advisory lock held on a
 * dedicated connection for the whole run, waited for up to `timeoutMs`; the
 * server drops it if the process dies. SQLite needs no run lock: each
 * migration's `BEGIN IMMEDIATE` takes the database write lock and the engine
 * re-checks the record inside it, so a second run waits, then skips.
 */
export async function acquireRunLock(database: Database, timeoutMs: number): Promise<RunLock> {
  if (database.dialect === 'sqlite' || !database.pool) return {release: async () => {}}
  const display = database.target.display
  let client: PoolClient
  try {
    client = await database.pool.connect()
  } catch (error) {
    throw translatePostgresError(error, display)
  }
  const deadline = Date.now() + timeoutMs
  try {
    for (;;) {
      const {rows} = await client.query<{locked: boolean}>('SELECT pg_try_advisory_lock($1::bigint) AS locked', [
        MIGRATION_LOCK_KEY,
      ])
      if (rows[0]?.locked) break
      if (Date.now() >= deadline) {
        throw new DatabaseError(
          `Another engage migrate run holds the migration lock on ${display} (waited ${formatSeconds(timeoutMs)}).`,
          {
            code: 'DATABASE_BUSY',
            suggestions: [
              'Wait for the other run to finish, then retry; `engage migrate status` shows what it applied.',
              'Pass --lock-timeout SECONDS to wait longer.',
            ],
          },
        )
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, Math.max(0, deadline - Date.now()))))
    }
  } catch (error) {
    client.release()
    if (error instanceof DatabaseError) throw error
    throw translatePostgresError(error, display)
  }
  return {
    release: async () => {
      try {
        await client.query('SELECT pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_KEY])
        client.release()
      } catch (error) {
        // A broken connection has lost the lock already; do not return it to the pool.
        client.release(error as Error)
      }
    },
  }
}

function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`
}
