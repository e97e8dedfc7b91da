import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {LEGACY_POSTGRES_STATEMENTS, LEGACY_SQLITE_STATEMENTS, LEGACY_TABLES} from '../../../src/schema/legacy-schema.js'
import {PROJECT_ROOT} from '../../support/run-cli.js'

// The contract lives beside the repo in shared/; a clone elsewhere (CI) has only
// the verbatim copy in test/fixtures, which the drift check below keeps honest.
const CONTRACT = join(PROJECT_ROOT, 'test', 'fixtures', 'legacy-schema.sql')
const SHARED_CONTRACT = join(PROJECT_ROOT, '..', 'shared', 'legacy', 'schema.sql')

function contractStatements(): string[] {
  const body = readFileSync(CONTRACT, 'utf8')
    .split('\n')
    .filter((line) => !line.startsWith('--'))
    .join('\n')
  return body
    .split(';')
    .map((statement) => statement.trim())
    .filter((statement) => statement !== '' && !statement.startsWith('PRAGMA'))
}

describe('legacy schema module', () => {
  it.runIf(existsSync(SHARED_CONTRACT))('keeps test/fixtures/legacy-schema.sql byte-identical to the shared contract', () => {
    expect(readFileSync(CONTRACT).equals(readFileSync(SHARED_CONTRACT))).toBe(true)
  })

  it('holds the contract file statements verbatim for SQLite', () => {
    expect(LEGACY_SQLITE_STATEMENTS).toEqual(contractStatements())
  })

  it('creates the same tables, in the same order, on PostgreSQL', () => {
    const tableOf = (statement: string) => /^CREATE TABLE (\w+)/.exec(statement)?.[1]
    const tables = LEGACY_POSTGRES_STATEMENTS.map(tableOf).filter(Boolean)
    expect(tables).toEqual([...LEGACY_TABLES])
    expect(LEGACY_POSTGRES_STATEMENTS.join('\n')).not.toContain('AUTOINCREMENT')
  })
})
