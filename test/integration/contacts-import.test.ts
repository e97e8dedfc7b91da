import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import type {Database} from '../../src/db/database.js'
import {createTenant} from '../../src/tenants/tenant-repository.js'
import {DIALECTS, type TestDatabase} from '../support/databases.js'
import {runCli} from '../support/run-cli.js'
import {migratedDatabase, parseJson} from '../support/seed-fixtures.js'

describe.each(DIALECTS)('engage contacts import (%s)', (dialect) => {
  let testDb: TestDatabase
  let database: Database
  let tenantId: string
  let slug: string
  let counter = 0

  // One migrated database per dialect; each test gets its own tenant, so tests never see each other's contacts.
  beforeAll(async () => {
    testDb = await migratedDatabase(dialect)
    database = await testDb.open()
  })
  afterAll(async () => {
    await testDb.dispose()
  })
  beforeEach(async () => {
    slug = `acme-${++counter}`
    tenantId = (await createTenant(database.db, {slug, name: 'Acme'})).id
  })

  const csvFile = (name: string, text: string) => {
    const path = join(testDb.dir, name)
    writeFileSync(path, text)
    return path
  }
  const importFile = (path: string, ...extra: string[]) =>
    runCli(['contacts', 'import', '--tenant', slug, '--file', path, '--database-url', testDb.url, ...extra])
  // Sorted here: the dialects order NULLs differently. Phone first, contacts without one last.
  const contacts = async () =>
    (await database.db.selectFrom('contacts').select(['tenant_id', 'name', 'phone', 'email', 'opted_out']).where('tenant_id', '=', tenantId).execute()).sort(
      (a, b) => `${a.phone ?? '~'} ${a.email ?? ''}`.localeCompare(`${b.phone ?? '~'} ${b.email ?? ''}`),
    )

  it('imports a CSV with quoted fields, embedded commas and line breaks, BOM and CRLF, columns in any order', async () => {
    const path = csvFile(
      'contacts.csv',
      '\uFEFFEmail,opted_out,Phone,name\r\n' +
        'jane@example.com,no,+14155550100,"Doe, Jane"\r\n' +
        ',yes,+447700900123,"Bob\r\n""the builder"""\r\n' +
        'carol@example.org,,,Carol\r\n',
    )

    const result = await importFile(path, '--json')

    expect(result.code, result.stderr).toBe(0)
    expect(parseJson<Record<string, unknown>>(result)).toMatchObject({tenantSlug: slug, rows: 3, created: 3, updated: 0, dryRun: false})
    const rows = await contacts()
    expect(rows.map((row) => ({...row, opted_out: Number(row.opted_out)}))).toEqual([
      {tenant_id: tenantId, name: 'Doe, Jane', phone: '+14155550100', email: 'jane@example.com', opted_out: 0},
      {tenant_id: tenantId, name: 'Bob\r\n"the builder"', phone: '+447700900123', email: null, opted_out: 1},
      {tenant_id: tenantId, name: 'Carol', phone: null, email: 'carol@example.org', opted_out: 0},
    ])
  })

  it('re-importing upserts by phone and email: no duplicates, changes applied, an opt-out kept', async () => {
    const first = csvFile('first.csv', 'name,phone,email,opted_out\nJane,+14155550100,jane@example.com,\nBob,+447700900123,,yes\nCarol,,carol@example.org,\n')
    expect((await importFile(first)).code).toBe(0)

    const again = await importFile(first, '--json')
    expect(again.code, again.stderr).toBe(0)
    expect(parseJson<Record<string, unknown>>(again)).toMatchObject({created: 0, updated: 0, unchanged: 3})

    // Jane renamed (matched by phone), Carol gets a phone (matched by email, case-insensitive), Bob says not opted out, Dan is new.
    const second = csvFile(
      'second.csv',
      'phone,email,name,opted_out\n+14155550100,,Jane Doe,\n+12025550199,CAROL@example.org,,\n+447700900123,,,no\n+33612345678,dan@example.fr,Dan,\n',
    )
    const result = await importFile(second, '--json')

    expect(result.code, result.stderr).toBe(0)
    expect(parseJson<Record<string, unknown>>(result)).toMatchObject({rows: 4, created: 1, updated: 2, unchanged: 1, optOutsKept: 1})
    const rows = await contacts()
    expect(rows).toHaveLength(4)
    expect(rows.map((row) => [row.name, row.phone, row.email, Number(row.opted_out)])).toEqual([
      ['Carol', '+12025550199', 'CAROL@example.org', 0],
      ['Jane Doe', '+14155550100', 'jane@example.com', 0],
      ['Dan', '+33612345678', 'dan@example.fr', 0],
      ['Bob', '+447700900123', null, 1],
    ])
  })

  it('refuses a file with invalid rows, listing each row and problem, and imports nothing', async () => {
    const path = csvFile(
      'bad.csv',
      'name,phone,email\n' +
        'Good,+14155550100,good@example.com\n' +
        'Spaces,+1 415 555 0101,\n' +
        'NoPlus,14155550102,\n' +
        'BadMail,,not-an-email\n' +
        'Nothing,,\n' +
        'Repeat,+14155550100,\n' +
        'Short,+14155550103\n',
    )

    const result = await importFile(path)

    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr).toContain('Error [CONTACTS_CSV_INVALID_ROWS]: 6 of 7 rows are invalid; nothing was imported.')
    expect(result.stderr).toMatch(/row 2 \(line 3\): phone is not in E\.164 format/)
    expect(result.stderr).toMatch(/row 3 \(line 4\): phone is not in E\.164 format/)
    expect(result.stderr).toMatch(/row 4 \(line 5\): email: the email address has no @/)
    expect(result.stderr).toMatch(/row 5 \(line 6\): has neither a phone nor an email/)
    expect(result.stderr).toMatch(/row 6 \(line 7\): repeats the phone of row 1/)
    expect(result.stderr).toMatch(/row 7 \(line 8\): has 2 fields, the header has 3/)
    expect(result.stderr).not.toMatch(/^\s*row 1 \(/m)
    expect(await contacts()).toEqual([])
  })

  it('lists the first 20 problems and counts the rest', async () => {
    const lines = Array.from({length: 25}, (_, i) => `Person ${i},555-01${String(i).padStart(2, '0')}`)
    const path = csvFile('many.csv', `name,phone\n${lines.join('\n')}\n`)

    const result = await importFile(path, '--json')

    expect(result.code).toBe(2)
    const {error} = parseJson<{error: {code: string; message: string; details: {problems: unknown[]; moreProblems: number}}}>(result)
    expect(error.code).toBe('CONTACTS_CSV_INVALID_ROWS')
    expect(error.details.problems).toHaveLength(20)
    expect(error.details.moreProblems).toBe(5)
    expect(error.message).toContain('… and 5 more problem(s)')
    expect(await contacts()).toEqual([])
  })

  it('refuses unknown columns by name', async () => {
    const path = csvFile('cols.csv', 'name,phone,Company,tags\nJane,+14155550100,Acme,vip\n')

    const result = await importFile(path)

    expect(result.code).toBe(2)
    expect(result.stderr).toContain('Error [CONTACTS_CSV_UNKNOWN_COLUMNS]: The CSV header has unknown column(s): "company", "tags".')
    expect(await contacts()).toEqual([])
  })

  it('--dry-run counts without writing; an unknown tenant is exit 7', async () => {
    const path = csvFile('ok.csv', 'phone\n+14155550100\n')

    const dry = await importFile(path, '--dry-run', '--json')
    const missing = await runCli(['contacts', 'import', '--tenant', 'nope', '--file', path, '--database-url', testDb.url])

    expect(dry.code, dry.stderr).toBe(0)
    expect(parseJson<Record<string, unknown>>(dry)).toMatchObject({created: 1, dryRun: true})
    expect(missing.code).toBe(7)
    expect(missing.stderr).toContain('TENANT_NOT_FOUND')
    expect(await contacts()).toEqual([])
  })
})
