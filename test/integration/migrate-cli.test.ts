import {spawn} from 'node:child_process'
import {existsSync, readFileSync, statSync, truncateSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {MIGRATIONS} from '../../migrations/index.js'
import {createTestDatabase, DIALECTS, type TestDatabase} from '../support/databases.js'
import {recordsOf, tablesOf} from '../support/migrate-fixtures.js'
import {holdSqliteWriteLock} from '../support/sqlite-lock-holder.js'
import {BIN, PROJECT_ROOT, runCli, type CliResult} from '../support/run-cli.js'

const OPERATOR = {ENGAGE_OPERATOR: 'cli-test-operator'}
const NAMES = MIGRATIONS.map((entry) => entry.name)

function migrate(url: string, ...args: string[]): Promise<CliResult> {
  return runCli(['migrate', ...args, '--database-url', url], {env: OPERATOR})
}

/** --json must print exactly one JSON document on stdout, nothing else. */
function onlyJson(result: CliResult): Record<string, any> {
  return JSON.parse(result.stdout) as Record<string, any>
}

describe.each(DIALECTS)('engage migrate on %s', (dialect) => {
  let testDb: TestDatabase

  beforeEach(async () => {
    testDb = await createTestDatabase(dialect)
  })
  afterEach(async () => {
    await testDb.dispose()
  })

  it('up reaches the latest migration; status shows who applied what; up again has nothing to do', async () => {
    const up = await migrate(testDb.url, 'up')

    expect(up.code, up.stderr).toBe(0)
    for (const name of NAMES) expect(up.stdout).toContain(`Applied ${name}`)
    const status = await migrate(testDb.url, 'status', '--json')
    expect(status.code).toBe(0)
    const doc = onlyJson(status)
    expect(doc.summary).toEqual({applied: NAMES.length, pending: 0, drifted: 0})
    expect(doc.migrations).toEqual(
      MIGRATIONS.map((entry) =>
        expect.objectContaining({name: entry.name, state: 'applied', appliedChecksum: entry.checksum, appliedBy: OPERATOR.ENGAGE_OPERATOR}),
      ),
    )
    const human = await migrate(testDb.url, 'status')
    expect(human.stdout).toContain(`${NAMES.length} applied, 0 pending, 0 drifted.`)
    expect(human.stdout).toContain(OPERATOR.ENGAGE_OPERATOR)

    const again = await migrate(testDb.url, 'up')
    expect(again.code).toBe(0)
    expect(again.stdout).toContain('Nothing to do: the database is up to date.')
    const againJson = await migrate(testDb.url, 'up', '--json')
    expect(onlyJson(againJson)).toMatchObject({outcome: 'nothing-to-do', migrations: []})
  })

  it('up --json prints one document with a status and report per migration', async () => {
    const up = await migrate(testDb.url, 'up', '--json')

    expect(up.code, up.stderr).toBe(0)
    const doc = onlyJson(up)
    expect(doc.outcome).toBe('done')
    expect(doc.migrations.map((item: {name: string; status: string}) => [item.name, item.status])).toEqual(
      NAMES.map((name) => [name, 'applied']),
    )
    expect(doc.migrations[0].report).toMatchObject({mode: 'created'})
  })

  it('--dry-run prints the reports and changes nothing', async () => {
    await migrate(testDb.url, 'up', '--to', NAMES[0]!)
    const database = await testDb.open({create: false})
    const tablesBefore = await tablesOf(database)
    const recordsBefore = await recordsOf(database)

    const dry = await migrate(testDb.url, 'up', '--dry-run')
    const dryJson = await migrate(testDb.url, 'up', '--dry-run', '--json')

    expect(dry.code, dry.stderr).toBe(0)
    if (NAMES.length > 1) {
      for (const name of NAMES.slice(1)) expect(dry.stdout).toContain(`Would apply ${name}`)
      expect(dry.stdout).toContain('Dry run: everything above was rolled back')
      expect(onlyJson(dryJson)).toMatchObject({dryRun: true, outcome: 'rolled-back'})
    }
    expect(await tablesOf(database)).toEqual(tablesBefore)
    expect(await recordsOf(database)).toEqual(recordsBefore)
  })

  it('stops with exit 4 naming the migration when an applied one changed or vanished from the code', async () => {
    await migrate(testDb.url, 'up')
    const database = await testDb.open({create: false})
    await database.db.updateTable('engage_migrations').set({checksum: '0'.repeat(64)}).where('name', '=', NAMES[0]!).execute()

    const changed = await migrate(testDb.url, 'up')
    expect(changed.code).toBe(4)
    expect(changed.stderr).toContain('MIGRATION_DRIFT')
    expect(changed.stderr).toContain(`${NAMES[0]} was changed after it was applied`)

    await database.db.updateTable('engage_migrations').set({checksum: MIGRATIONS[0]!.checksum}).where('name', '=', NAMES[0]!).execute()
    await database.db
      .insertInto('engage_migrations')
      .values({name: '9999-removed', checksum: 'f'.repeat(64), applied_at: '2026-03-01T12:00:00.000Z', duration_ms: 1, applied_by: 'x'})
      .execute()
    const vanished = await migrate(testDb.url, 'up', '--json')
    expect(vanished.code).toBe(4)
    expect(onlyJson(vanished).error).toMatchObject({code: 'MIGRATION_DRIFT', message: expect.stringContaining('9999-removed')})
    const status = await migrate(testDb.url, 'status')
    expect(status.code).toBe(0)
    expect(status.stdout).toMatch(/9999-removed\s+drifted \(missing-from-code\)/)
  })

  it('down without a terminal and without --yes fails with exit 2 naming --yes, changing nothing', async () => {
    await migrate(testDb.url, 'up')
    const database = await testDb.open({create: false})
    const before = await recordsOf(database)

    const down = await migrate(testDb.url, 'down')

    expect(down.code).toBe(2)
    expect(down.stderr).toContain('CONFIRMATION_REQUIRED')
    expect(down.stderr).toContain('--yes')
    expect(await recordsOf(database)).toEqual(before)
  })

  it('down --step 1 reverts the latest; down --to NAME reverts down to it; nothing left is success', async () => {
    await migrate(testDb.url, 'up')
    const database = await testDb.open({create: false})

    const step = await migrate(testDb.url, 'down', '--step', '1', '--yes')
    expect(step.code, step.stderr).toBe(0)
    expect(step.stdout).toContain(`Reverted ${NAMES.at(-1)}`)
    expect((await recordsOf(database)).map((record) => record.name)).toEqual(NAMES.slice(0, -1))

    await migrate(testDb.url, 'up')
    const to = await migrate(testDb.url, 'down', '--to', NAMES[0]!, '--yes', '--json')
    expect(to.code, to.stderr).toBe(0)
    expect(onlyJson(to).migrations.map((item: {name: string}) => item.name)).toEqual([...NAMES].reverse())
    expect(await recordsOf(database)).toEqual([])

    const nothing = await migrate(testDb.url, 'down', '--yes')
    expect(nothing.code).toBe(0)
    expect(nothing.stdout).toContain('Nothing to do: no migration is applied.')
  })

  it('two migrate up processes at once: each migration recorded once, both exit cleanly', async () => {
    const runs = await Promise.all([migrate(testDb.url, 'up', '--lock-timeout', '30'), migrate(testDb.url, 'up', '--lock-timeout', '30')])

    for (const run of runs) {
      const clean = run.code === 0 || (run.code === 3 && run.stderr.includes('DATABASE_BUSY'))
      expect(clean, `exit ${run.code}: ${run.stderr}`).toBe(true)
    }
    expect(runs.some((run) => run.code === 0)).toBe(true)
    const database = await testDb.open({create: false})
    expect((await recordsOf(database)).map((record) => record.name)).toEqual(NAMES)
  })

  it('Ctrl-C at the down confirmation exits 130 and reverts nothing', async () => {
    await migrate(testDb.url, 'up')

    const result = await answerInTerminal(['migrate', 'down', '--database-url', testDb.url], '(y/N)', '\x03')

    expect(result.code).toBe(130)
    expect(result.output).toContain('INTERRUPTED')
    const database = await testDb.open({create: false})
    expect((await recordsOf(database)).map((record) => record.name)).toEqual(NAMES)
  })
})

describe('engage migrate refuses bad database files without writing to them', () => {
  let testDb: TestDatabase
  let path: string
  let url: string

  beforeEach(async () => {
    testDb = await createTestDatabase('sqlite')
    path = join(testDb.dir, 'bad.db')
    url = `sqlite:${path}`
  })
  afterEach(async () => {
    await testDb.dispose()
  })

  async function expectRefused(args: string[], code: string): Promise<void> {
    const before = readFileSync(path)
    const result = await migrate(url, ...args)
    expect(result.code, result.stderr).toBe(3)
    expect(result.stderr).toContain(code)
    expect(result.stdout).toBe('')
    expect(readFileSync(path).equals(before)).toBe(true)
  }

  it('a zero-byte file', async () => {
    writeFileSync(path, '')
    await expectRefused(['up'], 'DATABASE_EMPTY_FILE')
    await expectRefused(['status'], 'DATABASE_EMPTY_FILE')
  })

  it('a file that is not SQLite', async () => {
    writeFileSync(path, 'id,name\n1,not a database\n'.repeat(20))
    await expectRefused(['up'], 'DATABASE_NOT_SQLITE')
  })

  it('a truncated SQLite database', async () => {
    const made = await migrate(url, 'up')
    expect(made.code, made.stderr).toBe(0)
    truncateSync(path, Math.floor(statSync(path).size / 2))
    await expectRefused(['up'], 'DATABASE_TRUNCATED')
    await expectRefused(['down', '--yes'], 'DATABASE_TRUNCATED')
  })

  it.each(['wal', 'delete'])('a database held by another writer (journal mode %s) fails after --lock-timeout', async (mode) => {
    const holder = await holdSqliteWriteLock(path, mode)
    try {
      await expectRefused(['up', '--lock-timeout', '0.5'], 'DATABASE_BUSY')
    } finally {
      await holder.release()
    }
  })

  it('status and down never create a missing file', async () => {
    const status = await migrate(url, 'status')
    const down = await migrate(url, 'down', '--yes')

    expect([status.code, down.code]).toEqual([3, 3])
    expect(status.stderr).toContain('DATABASE_NOT_FOUND')
    expect(existsSync(path)).toBe(false)
  })

  it('an unreachable PostgreSQL server', async () => {
    const result = await migrate('postgres://postgres@127.0.0.1:1/x', 'up')

    expect(result.code).toBe(3)
    expect(result.stderr).toContain('DATABASE_UNREACHABLE')
    expect(result.stdout).toBe('')
  })
})

/**
 * Runs the CLI in a real pseudo-terminal (util-linux `script`), waits for
 * `prompt`, types `keys`. Output is stdout and stderr merged, as a terminal shows them.
 */
function answerInTerminal(args: string[], prompt: string, keys: string): Promise<{code: number | null; output: string}> {
  const devArgs = process.env.ENGAGE_TEST_BIN === 'dev' ? '--import tsx ' : ''
  const command = `${JSON.stringify(process.execPath)} ${devArgs}${JSON.stringify(BIN)} ${args.map((arg) => JSON.stringify(arg)).join(' ')}`
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], {
      cwd: PROJECT_ROOT,
      env: {PATH: process.env.PATH, HOME: process.env.HOME, TERM: 'xterm', ...OPERATOR},
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let output = ''
    let answered = false
    child.stdout.on('data', (chunk) => {
      output += chunk
      if (!answered && output.includes(prompt)) {
        answered = true
        child.stdin.write(keys)
      }
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({code, output})
    })
  })
}
