import {describe, expect, it} from 'vitest'
import {parseDatabaseUrl} from '../../../src/db/database-url.js'
import {UsageError} from '../../../src/errors/engage-error.js'

describe('parseDatabaseUrl', () => {
  it.each([
    ['sqlite:./engage.db', '/srv/engage.db'],
    ['sqlite://data/x.db', '/srv/data/x.db'],
    ['file:./engage.db', '/srv/engage.db'],
    ['engage.db', '/srv/engage.db'],
    ['sqlite:/abs/path.db', '/abs/path.db'],
  ])('reads %s as a SQLite file', (raw, path) => {
    expect(parseDatabaseUrl(raw, '/srv')).toMatchObject({dialect: 'sqlite', path})
  })

  it('reads postgres URLs and hides the password in the display form', () => {
    const target = parseDatabaseUrl('postgres://app:s3cret-pw@db.internal:5432/engage')
    expect(target.dialect).toBe('postgres')
    expect(target.display).not.toContain('s3cret-pw')
    expect(target.display).toContain('db.internal:5432/engage')
  })

  it.each(['', 'sqlite:', 'sqlite::memory:', 'mysql://root@localhost/db'])('refuses %j with a usage error', (raw) => {
    expect(() => parseDatabaseUrl(raw)).toThrow(UsageError)
  })
})
