import {closeSync, existsSync, linkSync, openSync, readSync, statSync, unlinkSync} from 'node:fs'
import {dirname} from 'node:path'
import type BetterSqlite3 from 'better-sqlite3'
import {DatabaseError} from '../errors/engage-error.js'

const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1')
export const SQLITE_BUSY_TIMEOUT_MS = 5000

export interface OpenSqliteOptions {
  /** Create the file when it does not exist (only `migrate up` does). */
  create: boolean
  busyTimeoutMs?: number
}

/**
 * Opens a SQLite file with WAL, foreign keys, secure delete and a busy
 * timeout. An existing file must be a whole SQLite database: a zero-byte,
 * truncated or foreign file is refused, never replaced by a fresh schema.
 */
export async function openSqlite(path: string, options: OpenSqliteOptions): Promise<BetterSqlite3.Database> {
  const exists = existsSync(path)
  if (exists) assertSqliteFile(path)
  else if (!options.create) {
    throw new DatabaseError(`No database at ${path}.`, {
      code: 'DATABASE_NOT_FOUND',
      suggestions: ['Run `engage migrate up` to create it, or pass --database-url for an existing one.'],
    })
  } else if (!existsSync(dirname(path))) {
    throw new DatabaseError(`The folder ${dirname(path)} does not exist, so ${path} cannot be created.`, {
      code: 'DATABASE_DIRECTORY_MISSING',
      suggestions: ['Create the folder first, or point --database-url elsewhere.'],
    })
  }
  const {default: Database} = await import('better-sqlite3')
  if (!exists) {
    try {
      createSqliteFileAtomically(Database, path)
    } catch (error) {
      throw translateSqliteError(error, path)
    }
    assertSqliteFile(path)
  }
  let db: BetterSqlite3.Database
  try {
    db = new Database(path, {fileMustExist: true, timeout: options.busyTimeoutMs ?? SQLITE_BUSY_TIMEOUT_MS})
    db.pragma('journal_mode = WAL')
    db.pragma('foreign_keys = ON')
    // Deleted credential rows must not linger as readable bytes in free pages.
    db.pragma('secure_delete = ON')
    db.pragma('synchronous = NORMAL')
    // Statement journals and temporary tables in memory, not in files under /var/tmp: a statement
    // journal holds the original of every page a statement changes (a legacy credential page with
    // its plaintext webhook secrets, during 0002), and writing it to a file was 230 MB of I/O at
    // 100,000 rows. Fixed per transaction, so it is set here, before any.
    db.pragma('temp_store = MEMORY')
  } catch (error) {
    throw translateSqliteError(error, path)
  }
  return db
}

/**
 * A new database appears whole or not at all: it is made under a temporary
 * name (header written) and hard-linked into place, so a second process
 * creating it at the same moment never sees a zero-byte file. Losing that
 * race is fine: the other process's file is used.
 */
function createSqliteFileAtomically(Database: typeof BetterSqlite3, path: string): void {
  const temporary = `${path}.creating-${process.pid}-${Date.now().toString(36)}`
  try {
    const fresh = new Database(temporary)
    fresh.pragma('journal_mode = WAL')
    fresh.close()
    try {
      linkSync(temporary, path)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
  } finally {
    for (const leftover of [temporary, `${temporary}-wal`, `${temporary}-shm`]) {
      try {
        unlinkSync(leftover)
      } catch {}
    }
  }
}

/** Header and length checks: cheap enough for every open, strict enough to catch damage. */
export function assertSqliteFile(path: string): void {
  const size = statSync(path).size
  if (size === 0) {
    throw new DatabaseError(`${path} is empty (0 bytes): it is not a SQLite database.`, {
      code: 'DATABASE_EMPTY_FILE',
      suggestions: [
        'Restore the file from a backup, or delete it if you want `engage migrate up` to create a new database.',
      ],
    })
  }
  const header = Buffer.alloc(100)
  const fd = openSync(path, 'r')
  let read: number
  try {
    read = readSync(fd, header, 0, 100, 0)
  } finally {
    closeSync(fd)
  }
  if (read < 100 || !header.subarray(0, 16).equals(SQLITE_HEADER)) {
    throw new DatabaseError(`${path} is not a SQLite database (its header is wrong).`, {
      code: 'DATABASE_NOT_SQLITE',
      suggestions: ['Check --database-url / DATABASE_URL points at the right file.'],
    })
  }
  const rawPageSize = header.readUInt16BE(16)
  const pageSize = rawPageSize === 1 ? 65536 : rawPageSize
  const pageCount = header.readUInt32BE(28)
  // The header's page count is valid only when the change counters agree (SQLite file format §1.3.7).
  const countValid = header.readUInt32BE(24) === header.readUInt32BE(92)
  if (countValid && pageCount > 0 && size < pageSize * pageCount) {
    throw new DatabaseError(
      `${path} is truncated: the header says ${pageCount} pages of ${pageSize} bytes but the file has ${size} bytes.`,
      {
        code: 'DATABASE_TRUNCATED',
        suggestions: ['Restore the file from a backup; engage will not write to a damaged database.'],
      },
    )
  }
}

export function translateSqliteError(error: unknown, path: string): DatabaseError {
  const code = (error as {code?: string}).code ?? ''
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
    return new DatabaseError(`${path} is locked by another writer.`, {
      code: 'DATABASE_BUSY',
      cause: error,
      suggestions: ['Wait for the other process (a worker or another migrate run) to finish, then retry.'],
    })
  }
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
    return new DatabaseError(`${path} is damaged or not a SQLite database.`, {
      code: 'DATABASE_CORRUPT',
      cause: error,
      suggestions: ['Restore the file from a backup.'],
    })
  }
  return new DatabaseError(`Cannot open ${path}: ${(error as Error).message}`, {code: 'DATABASE_OPEN_FAILED', cause: error})
}
