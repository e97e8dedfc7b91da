import {resolve} from 'node:path'
import {UsageError} from '../errors/engage-error.js'

/** Where a database lives, parsed from `--database-url` / `DATABASE_URL`. */
export type DatabaseTarget =
  | {dialect: 'sqlite'; path: string; display: string}
  | {dialect: 'postgres'; url: string; display: string}

/**
 * Accepts `sqlite:PATH`, `sqlite://PATH`, `file:PATH`, a bare file path, and
 * `postgres://` / `postgresql://` URLs. The `display` form never carries a
 * password, so it is safe for logs and errors.
 */
export function parseDatabaseUrl(raw: string, cwd: string = process.cwd()): DatabaseTarget {
  const value = raw.trim()
  if (value === '') {
    throw new UsageError('The database URL is empty.', {
      code: 'DATABASE_URL_EMPTY',
      suggestions: ['Pass --database-url sqlite:./engage.db or postgres://user@host:5432/db, or unset DATABASE_URL.'],
    })
  }
  if (/^postgres(ql)?:\/\//i.test(value)) {
    let url: URL
    try {
      url = new URL(value)
    } catch (error) {
      throw new UsageError('The PostgreSQL URL is not a valid URL.', {
        code: 'DATABASE_URL_INVALID',
        cause: error,
        suggestions: ['Use the form postgres://user:password@host:5432/database.'],
      })
    }
    return {dialect: 'postgres', url: value, display: redactUrl(url)}
  }
  const sqlite = /^(sqlite|file):(\/\/)?(.*)$/i.exec(value)
  if (sqlite) {
    const path = sqlite[3] ?? ''
    if (path === '' || path === ':memory:') {
      throw new UsageError(`"${value}" names no database file.`, {
        code: 'DATABASE_URL_INVALID',
        suggestions: ['Use sqlite:./engage.db (a file path after the colon).'],
      })
    }
    return {dialect: 'sqlite', path: resolve(cwd, path), display: `sqlite:${path}`}
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    throw new UsageError(`Unsupported database URL scheme in "${value.split('://')[0]}://…".`, {
      code: 'DATABASE_URL_UNSUPPORTED',
      suggestions: ['engage supports sqlite:PATH, file:PATH and postgres:// URLs.'],
    })
  }
  return {dialect: 'sqlite', path: resolve(cwd, value), display: `sqlite:${value}`}
}

function redactUrl(url: URL): string {
  const copy = new URL(url.toString())
  if (copy.password) copy.password = '***'
  return copy.toString()
}
