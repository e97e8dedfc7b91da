import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import type {Database} from '../../src/db/database.js'
import {createTenant} from '../../src/tenants/tenant-repository.js'
import {DIALECTS, type TestDatabase} from '../support/databases.js'
import {runCli} from '../support/run-cli.js'
import {migratedDatabase, parseJson} from '../support/seed-fixtures.js'

interface Created {
  id: string
  status: string
  channel: string
  subject: string | null
  segments?: {encoding: string; segments: number; characters: number}
}

describe.each(DIALECTS)('engage campaign create (%s)', (dialect) => {
  let testDb: TestDatabase
  let database: Database
  let tenantId: string
  let slug: string
  let counter = 0

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

  const create = (...args: string[]) => runCli(['campaign', 'create', '--tenant', slug, '--database-url', testDb.url, ...args])
  const campaigns = () => database.db.selectFrom('campaigns').selectAll().where('tenant_id', '=', tenantId).execute()

  it('creates a draft SMS campaign and prints its id', async () => {
    const result = await create('--channel', 'sms', '--body', 'Hello {name}, 20% off today!', '--name', 'Spring sale')

    expect(result.code, result.stderr).toBe(0)
    const id = result.stdout.trim()
    const rows = await campaigns()
    expect(rows).toHaveLength(1)
    expect(rows[0]).toMatchObject({id, tenant_id: tenantId, name: 'Spring sale', channel: 'sms', subject: null, body: 'Hello {name}, 20% off today!', status: 'draft', sent_at: null})
    expect(result.stderr).toContain('1 segment(s) GSM-7')
  })

  it('accepts exactly 10 GSM-7 segments (1,530 septets) and refuses 11 with the count and encoding', async () => {
    const fits = await create('--channel', 'sms', '--body', 'a'.repeat(1530), '--json')
    const tooLong = await create('--channel', 'sms', '--body', 'a'.repeat(1531))

    expect(fits.code, fits.stderr).toBe(0)
    expect(parseJson<Created>(fits).segments).toEqual({encoding: 'GSM-7', segments: 10, characters: 1530, perSegment: 153})
    expect(tooLong.code).toBe(2)
    expect(tooLong.stderr).toContain('Error [SMS_BODY_TOO_LONG]: The SMS body needs 11 segments (GSM-7, 1531 septets); the limit is 10.')
    expect(await campaigns()).toHaveLength(1)
  })

  it('counts GSM-7 extension characters as two septets that never straddle a segment', async () => {
    // A euro sign is ESC + code: 76 fit in a 153-septet part (152 septets), so 760 fill 10 parts and 761 need 11,
    // although 1,522 septets would fit 10 parts if the pairs could be split.
    const fits = await create('--channel', 'whatsapp', '--body', '€'.repeat(760), '--json')
    const tooLong = await create('--channel', 'whatsapp', '--body', '€'.repeat(761))

    expect(parseJson<Created>(fits).segments).toMatchObject({encoding: 'GSM-7', segments: 10, characters: 1520})
    expect(tooLong.code).toBe(2)
    expect(tooLong.stderr).toContain('needs 11 segments (GSM-7, 1522 septets)')
  })

  it('counts UCS-2: 70 code units are one segment, 71 are two, and 671 are refused as 11', async () => {
    const seventy = await create('--channel', 'sms', '--body', 'ж'.repeat(70), '--json')
    const seventyOne = await create('--channel', 'sms', '--body', 'ж'.repeat(71), '--json')
    // An emoji is two UTF-16 code units and is never split: 66 letters + 🙂 (68 units) spill into a second part of 67.
    const emoji = await create('--channel', 'sms', '--body', `${'ж'.repeat(69)}🙂`, '--json')
    const tooLong = await create('--channel', 'sms', '--body', 'ж'.repeat(671))

    expect(parseJson<Created>(seventy).segments).toEqual({encoding: 'UCS-2', segments: 1, characters: 70, perSegment: 70})
    expect(parseJson<Created>(seventyOne).segments).toEqual({encoding: 'UCS-2', segments: 2, characters: 71, perSegment: 67})
    expect(parseJson<Created>(emoji).segments).toEqual({encoding: 'UCS-2', segments: 2, characters: 71, perSegment: 67})
    expect(tooLong.code).toBe(2)
    expect(tooLong.stderr).toContain('needs 11 segments (UCS-2, 671 UTF-16 code units); the limit is 10.')
    expect(tooLong.stderr).toContain('outside the GSM-7 alphabet')
  })

  it('email needs a subject, and takes a body from a file', async () => {
    const bodyFile = join(testDb.dir, `body-${slug}.txt`)
    writeFileSync(bodyFile, '\uFEFF<p>Hello</p>\n')

    const missing = await create('--channel', 'email', '--body', 'Hi')
    const created = await create('--channel', 'email', '--body-file', bodyFile, '--subject', 'News', '--json')

    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('Error [CAMPAIGN_SUBJECT_MISSING]: An email campaign needs a subject.')
    expect(missing.stderr).toContain('--subject')
    expect(created.code, created.stderr).toBe(0)
    const rows = await campaigns()
    expect(rows).toHaveLength(1)
    expect(rows[0]).toMatchObject({id: parseJson<Created>(created).id, channel: 'email', subject: 'News', body: '<p>Hello</p>', status: 'draft'})
  })

  it.each([
    ['a subject on an SMS campaign', ['--channel', 'sms', '--body', 'Hi', '--subject', 'x'], 'CAMPAIGN_SUBJECT_NOT_APPLICABLE'],
    ['an empty SMS body', ['--channel', 'sms', '--body', ''], 'SMS_BODY_EMPTY'],
    ['no body at all', ['--channel', 'sms'], 'CAMPAIGN_BODY_MISSING'],
    ['both --body and --body-file', ['--channel', 'sms', '--body', 'a', '--body-file', '/nonexistent'], 'CAMPAIGN_BODY_TWICE'],
    ['an unreadable body file', ['--channel', 'sms', '--body-file', '/nonexistent/body.txt'], 'CAMPAIGN_BODY_FILE_UNREADABLE'],
  ])('refuses %s with exit 2 and writes nothing', async (_name, args, code) => {
    const result = await create(...args)

    expect(result.code).toBe(2)
    expect(result.stderr).toContain(`Error [${code}]`)
    expect(await campaigns()).toEqual([])
  })

  it('an unknown tenant is exit 7', async () => {
    const result = await runCli(['campaign', 'create', '--tenant', 'nobody', '--channel', 'sms', '--body', 'Hi', '--database-url', testDb.url])

    expect(result.code).toBe(7)
    expect(result.stderr).toContain('TENANT_NOT_FOUND')
  })
})
