import type {Logger} from '../cli/logger.js'
import type {Settings} from '../config/env.js'
import type {Database} from '../db/database.js'
import {createMigrator} from '../migrate/migrator.js'

/**
 * Waits until every migration of this engage version is applied to the
 * database (none pending, none drifted), polling every `intervalMs`. The
 * dev stack never migrates by itself: `engage migrate up` in another
 * terminal does it, as the runbook says. Resolves false when `signal`
 * aborts first.
 */
export async function waitForMigratedSchema(input: {database: Database; settings: Settings; logger: Logger; signal: AbortSignal; intervalMs?: number}): Promise<boolean> {
  const migrator = createMigrator({database: input.database, settings: input.settings, logger: input.logger})
  let told = false
  while (!input.signal.aborted) {
    const status = await migrator.status().catch(() => undefined)
    if (status && status.summary.pending === 0 && status.summary.drifted === 0) return true
    if (!told) {
      told = true
      input.logger.info(
        status && status.summary.drifted > 0
          ? 'The database has drifted migrations: `engage migrate status` shows them. Waiting…'
          : 'Waiting for the database to be migrated: run `npx engage migrate up` in another terminal.',
      )
    }
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer)
        input.signal.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, input.intervalMs ?? 250)
      input.signal.addEventListener('abort', done, {once: true})
    })
  }
  return false
}
