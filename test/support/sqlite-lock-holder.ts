import {spawn} from 'node:child_process'
import {once} from 'node:events'
import {createRequire} from 'node:module'

const BETTER_SQLITE3 = createRequire(import.meta.url).resolve('better-sqlite3')

export interface SqliteLockHolder {
  release(): Promise<void>
}

/**
 * Another writer in another process: it opens `path` in the given journal
 * mode, creates a table, then holds `BEGIN IMMEDIATE` until released. It must
 * be a separate process: SQLite's locks are POSIX record locks, which the
 * kernel drops for the whole process the moment that process closes any
 * descriptor of the file, so a holder inside the test process would lose its
 * lock as soon as the test reads the file's bytes.
 */
export async function holdSqliteWriteLock(path: string, journalMode: string): Promise<SqliteLockHolder> {
  const script = `
    const Database = require(${JSON.stringify(BETTER_SQLITE3)})
    const db = new Database(${JSON.stringify(path)})
    db.pragma('journal_mode = ${journalMode}')
    db.exec('CREATE TABLE IF NOT EXISTS unrelated (id INTEGER PRIMARY KEY)')
    db.exec('BEGIN IMMEDIATE')
    process.stdout.write('held\\n')
    process.stdin.on('data', () => {})
    process.stdin.on('end', () => { db.exec('ROLLBACK'); db.close() })`
  const child = spawn(process.execPath, ['-e', script], {stdio: ['pipe', 'pipe', 'inherit']})
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the lock holder exited (${code}) before taking the lock`)))
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('held')) resolve()
    })
  })
  return {
    release: async () => {
      const exited = once(child, 'exit')
      child.stdin.end()
      await exited
    },
  }
}
