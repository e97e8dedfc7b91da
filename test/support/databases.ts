import {copyFileSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import pg from 'pg'
import {openDatabase, type Database, type Dialect} from '../../src/db/database.js'

/** Every dialect-parametrised suite runs over this list (Kysely's DIALECTS pattern). */
export const DIALECTS: Dialect[] = ['sqlite', 'postgres']

/** Admin connection for creating throwaway databases; override with TEST_POSTGRES_URL. */
export const POSTGRES_ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

export interface TestDatabase {
  dialect: Dialect
  /** The URL a command would get in --database-url. */
  url: string
  /** A folder for this test's files (the SQLite file lives here). */
  dir: string
  open(options?: {create?: boolean}): Promise<Database>
  /** Drops the PostgreSQL database / removes the folder. */
  dispose(): Promise<void>
}

/**
 * A fresh, empty database of the given dialect: a new SQLite file path in a
 * temp folder, or a new PostgreSQL database on the local server. PostgreSQL
 * is required: if it is unreachable this throws, and the suite fails.
 * With `template` (of the same dialect, every connection to it closed), a
 * copy of it instead: its file copied, or `CREATE DATABASE … TEMPLATE`.
 */
export async function createTestDatabase(dialect: Dialect, template?: TestDatabase): Promise<TestDatabase> {
  const dir = mkdtempSync(join(tmpdir(), 'engage-test-'))
  const opened: Database[] = []
  const track = async (url: string, create: boolean) => {
    const database = await openDatabase(url, {create})
    opened.push(database)
    return database
  }
  if (dialect === 'sqlite') {
    const path = join(dir, 'engage.db')
    if (template) copyFileSync(template.url.replace(/^sqlite:/, ''), path)
    const url = `sqlite:${path}`
    return {
      dialect,
      url,
      dir,
      open: (options) => track(url, options?.create ?? true),
      dispose: async () => {
        await Promise.allSettled(opened.map((d) => d.close()))
        rmSync(dir, {recursive: true, force: true})
      },
    }
  }
  const name = `engage_test_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`
  const from = template ? ` TEMPLATE ${new URL(template.url).pathname.slice(1)}` : ''
  await withAdmin((client) => client.query(`CREATE DATABASE ${name}${from}`))
  const admin = new URL(POSTGRES_ADMIN_URL)
  admin.pathname = `/${name}`
  const url = admin.toString()
  return {
    dialect,
    url,
    dir,
    open: () => track(url, false),
    dispose: async () => {
      await Promise.allSettled(opened.map((d) => d.close()))
      await withAdmin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
      rmSync(dir, {recursive: true, force: true})
    },
  }
}

async function withAdmin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({connectionString: POSTGRES_ADMIN_URL, connectionTimeoutMillis: 5000})
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}
