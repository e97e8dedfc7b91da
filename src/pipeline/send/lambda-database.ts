import {Kysely, PostgresDialect} from 'kysely'
import type {Database} from '../../db/database.js'
import {parseDatabaseUrl} from '../../db/database-url.js'
import {openPostgres} from '../../db/postgres.js'

/**
 * Opens DATABASE_URL for a Lambda handler. PostgreSQL (what AWS uses) is
 * opened directly, so the bundle never contains better-sqlite3, a native
 * addon that cannot run from a zip. A SQLite URL (local runs of the handler
 * from the sources) loads the full database module through an import the
 * bundler cannot follow; inside a bundle it fails with a clear message.
 */
export async function openLambdaDatabase(url: string, options: {poolSize?: number} = {}): Promise<Database> {
  const target = parseDatabaseUrl(url)
  if (target.dialect === 'postgres') {
    const pool = await openPostgres(target.url, {display: target.display, poolSize: options.poolSize})
    const db = new Kysely<any>({dialect: new PostgresDialect({pool})}) // eslint-disable-line @typescript-eslint/no-explicit-any
    return {dialect: 'postgres', target, db, pool, close: () => db.destroy()}
  }
  // A computed specifier: esbuild leaves it alone instead of bundling SQLite's native driver.
  const specifier = new URL('../../db/database.js', import.meta.url).href
  let module: typeof import('../../db/database.js')
  try {
    module = (await import(specifier)) as typeof import('../../db/database.js')
  } catch (error) {
    throw new Error(`DATABASE_URL names SQLite (${target.display}), which a bundled Lambda cannot open; use a postgres:// URL. (${(error as Error).message})`)
  }
  return module.openDatabase(url)
}
