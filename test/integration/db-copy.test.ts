import {spawn} from 'node:child_process'
import {sql} from 'kysely'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import type {Database} from '../../src/db/database.js'
import {listTables} from '../../src/migrate/schema-inspect.js'
import {createTestDatabase, type TestDatabase} from '../support/databases.js'
import {buildLegacyFixture, TENANTS, type LegacyFixture} from '../support/legacy-fixture.js'
import {CLI_ARGV, PROJECT_ROOT, runCli, type CliResult} from '../support/run-cli.js'
import {closedPort} from '../support/seed-fixtures.js'

/**
 * `engage db copy` always has one database of each dialect: the SQLite source
 * and the PostgreSQL target. So instead of describe.each(DIALECTS), every test
 * here runs over both: a real SQLite file in, a real PostgreSQL database out.
 */

/** Tables migrations keep for themselves; the copy leaves them alone. */
const NOT_COPIED = new Set(['engage_migrations', 'tenant_channel_consolidation_state', 'engage_copy_progress'])
const BULK_MESSAGES = 1500
const KNOWN_TABLES = [
  'tenants', 'tenant_channel_settings', 'tenant_channel_credentials_archive', 'contacts', 'campaigns', 'messages',
  'message_status_events', 'local_queue_messages', 'local_queue_dead_letters',
]

function onlyJson(result: CliResult): Record<string, any> {
  return JSON.parse(result.stdout) as Record<string, any>
}

/** Every row of every copied table, each as sorted [column, text] pairs, the table's rows sorted: independent of the copy's checksum code. */
async function dumpAll(database: Database): Promise<Record<string, string[]>> {
  const dump: Record<string, string[]> = {}
  for (const table of await listTables(database.db, database.dialect)) {
    if (NOT_COPIED.has(table)) continue
    const rows = await database.db.selectFrom(table).selectAll().execute()
    dump[table] = rows
      .map((row) => JSON.stringify(Object.keys(row).sort().map((key) => [key, row[key] === null ? null : String(row[key])])))
      .sort()
  }
  return dump
}

async function countsOf(database: Database): Promise<Record<string, number>> {
  const dump = await dumpAll(database)
  return Object.fromEntries(Object.entries(dump).map(([table, rows]) => [table, rows.length]))
}

async function progressTableExists(target: Database): Promise<boolean> {
  return (await listTables(target.db, 'postgres')).includes('engage_copy_progress')
}

describe('engage db copy from SQLite to PostgreSQL', () => {
  let source: TestDatabase
  let target: TestDatabase
  let fixture: LegacyFixture

  /** The legacy fixture migrated by `engage migrate up`, plus queue rows and enough messages for many small batches. */
  async function buildSource(): Promise<void> {
    fixture = await buildLegacyFixture(source)
    const up = await runCli(['migrate', 'up', '--database-url', source.url], {env: {ENCRYPTION_KEY: fixture.encryptionKey}})
    expect(up.code, up.stderr).toBe(0)
    const database = await source.open({create: false})
    const sqlite = database.sqlite!
    const epoch = 1_767_225_600_123 // beyond 32 bits: PostgreSQL BIGINT, a string from pg
    sqlite.transaction(() => {
      const queue = sqlite.prepare(`INSERT INTO local_queue_messages (id, queue_name, body, attributes_json, md5_of_body, sent_at, visible_at, receive_count, first_received_at, receipt_handle)
        VALUES (?, 'engageninja-messages-dev', ?, '{}', ?, ?, ?, ?, ?, ?)`)
      queue.run('q1', '{"messageId":"msg_1","text":"Zoë 🚀"}', 'abc', epoch, epoch + 30_000, 1, epoch + 1, 'rh-1')
      queue.run('q2', '{"messageId":"msg_2"}', null, epoch + 5, epoch + 5, 0, null, null)
      sqlite
        .prepare(`INSERT INTO local_queue_dead_letters (id, queue_name, body, attributes_json, md5_of_body, sent_at, visible_at, receive_count, first_received_at, receipt_handle, dead_lettered_at, reason)
          VALUES ('dl1', 'engageninja-messages-dev', '{"messageId":"msg_2"}', '{"a":1}', 'def', ?, ?, 5, ?, 'rh-9', ?, 'maxReceiveCount 5 exceeded')`)
        .run(epoch, epoch, epoch + 1, epoch + 99)
      const message = sqlite.prepare(`INSERT INTO messages (id, tenant_id, campaign_id, contact_id, channel, provider, to_address, provider_message_id, status, attempts, created_at, updated_at)
        VALUES (?, ?, 'cmp_1', 'con_1', 'sms', 'twilio', '+15551230001', ?, 'delivered', 1, ?, ?)`)
      const event = sqlite.prepare(`INSERT INTO message_status_events (message_id, status, provider_status, payload_json, created_at) VALUES (?, 'delivered', 'DELIVERED', ?, ?)`)
      for (let index = 0; index < BULK_MESSAGES; index++) {
        const id = `msg_bulk_${String(index).padStart(5, '0')}`
        const at = new Date(Date.UTC(2026, 1, 1) + index * 1000).toISOString()
        message.run(id, TENANTS.acme.id, `SM${index.toString(16).padStart(32, '0')}`, at, at)
        event.run(id, `{"i":${index},"note":"東京"}`, at)
      }
    })()
    const tables = new Set(await listTables(database.db, 'sqlite'))
    if (tables.has('pending_status_callbacks')) {
      sqlite
        .prepare(`INSERT INTO pending_status_callbacks (provider_message_id, tenant_id, status, params_json, received_at) VALUES ('SMpending', ?, 'delivered', '{}', '2026-02-01T00:00:00.000Z')`)
        .run(TENANTS.zoe.id)
    }
    // The fixture's precondition: every table this test knows holds rows.
    const counts = await countsOf(database)
    for (const table of KNOWN_TABLES) expect(counts[table], `${table} has rows in the source`).toBeGreaterThan(0)
    await database.close()
  }

  async function migrateTarget(...args: string[]): Promise<void> {
    const up = await runCli(['migrate', 'up', '--database-url', target.url, ...args])
    expect(up.code, up.stderr).toBe(0)
  }

  const copy = (...args: string[]) => runCli(['db', 'copy', '--from', source.url, '--to', target.url, ...args], {env: {ENCRYPTION_KEY: fixture.encryptionKey}})

  beforeEach(async () => {
    source = await createTestDatabase('sqlite')
    target = await createTestDatabase('postgres')
    await buildSource()
  })
  afterEach(async () => {
    await Promise.allSettled([source.dispose(), target.dispose()])
  })

  it('copies every table with equal counts and checksums; the copy serves migrate status, settings list and keys check; sequences are reset', async () => {
    await migrateTarget()
    // The newest settings row deleted: SQLite's AUTOINCREMENT position is now ahead of max(id).
    const before = await source.open({create: false})
    before.sqlite!.prepare('DELETE FROM tenant_channel_settings WHERE id = (SELECT max(id) FROM tenant_channel_settings)').run()
    await before.close()

    const result = await copy('--json')

    expect(result.code, result.stderr).toBe(0)
    const doc = onlyJson(result)
    expect(doc).toMatchObject({outcome: 'copied', verified: true})
    const sourceDb = await source.open({create: false})
    const targetDb = await target.open()
    const sourceDump = await dumpAll(sourceDb)
    expect(doc.tables.map((table: {table: string}) => table.table).sort()).toEqual(Object.keys(sourceDump).sort())
    for (const table of doc.tables) {
      expect(table.match, table.table).toBe(true)
      expect(table.source).toEqual(table.target)
      expect(table.rows).toBe(sourceDump[table.table]!.length)
    }
    // Parents before children.
    const order = doc.tables.map((table: {table: string}) => table.table)
    expect(order.indexOf('tenants')).toBeLessThan(order.indexOf('messages'))
    expect(order.indexOf('messages')).toBeLessThan(order.indexOf('message_status_events'))
    // Independently of the command's own checksum: every row, every column, as text.
    expect(await dumpAll(targetDb)).toEqual(sourceDump)
    expect(await progressTableExists(targetDb)).toBe(false)

    const status = await runCli(['migrate', 'status', '--database-url', target.url, '--json'])
    expect(status.code, status.stderr).toBe(0)
    expect(onlyJson(status).summary).toMatchObject({pending: 0, drifted: 0})
    const settings = await runCli(['settings', 'list', '--database-url', target.url])
    expect(settings.code, settings.stderr).toBe(0)
    expect(settings.stdout).toContain(TENANTS.zoe.slug)
    const keys = await runCli(['keys', 'check', '--database-url', target.url], {env: {ENCRYPTION_KEY: fixture.encryptionKey}})
    expect(keys.code, keys.stderr + keys.stdout).toBe(0)

    // PostgreSQL continues after the last id SQLite handed out, not after the highest one left.
    const {seq} = sourceDb.sqlite!.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'tenant_channel_settings'`).get() as {seq: number}
    const maxId = (sourceDb.sqlite!.prepare('SELECT max(id) AS id FROM tenant_channel_settings').get() as {id: number}).id
    expect(seq).toBeGreaterThan(maxId)
    const inserted = await targetDb.db
      .insertInto('tenant_channel_settings')
      .values({tenant_id: TENANTS.obrien.id, channel: 'email', provider: 'ses', is_enabled: 0, settings_json: '{}', created_at: 'now', updated_at: 'now'})
      .returning('id')
      .executeTakeFirstOrThrow()
    expect(Number(inserted.id)).toBe(seq + 1)
    const event = await targetDb.db
      .insertInto('message_status_events')
      .values({message_id: 'msg_1', status: 'read', created_at: 'now'})
      .returning('id')
      .executeTakeFirstOrThrow()
    expect(Number(event.id)).toBeGreaterThan(BULK_MESSAGES)
  })

  it('prints a table per table with ✓, and a second run says the copy is already done', async () => {
    await migrateTarget()

    const first = await copy()
    const second = await copy()

    expect(first.code, first.stderr).toBe(0)
    expect(first.stdout).toMatch(/^TABLE\s+ROWS\s+COPIED\s+SECONDS\s+ROWS\/S\s+CHECKSUM$/m)
    expect(first.stdout).toMatch(new RegExp(`^messages\\s+${BULK_MESSAGES + 2}\\s+${BULK_MESSAGES + 2}\\s+[\\d.]+\\s+\\d+\\s+✓$`, 'm'))
    expect(first.stdout).toContain('every count and checksum matches')
    expect(first.stderr).toContain('rows committed')
    expect(second.code, second.stderr).toBe(0)
    expect(second.stdout).toContain('Already done')
  })

  it('killed with SIGKILL half-way, the same command resumes after the last committed batch and copies no row twice', async () => {
    await migrateTarget()
    const sourceDb = await source.open({create: false})
    const total = Object.values(await countsOf(sourceDb)).reduce((sum, n) => sum + n, 0)
    const args = ['db', 'copy', '--from', source.url, '--to', target.url, '--batch-size', '10']

    const killed = await runUntilFirstBatchThenKill(args)

    expect(killed.signal).toBe('SIGKILL')
    const targetDb = await target.open()
    expect(await progressTableExists(targetDb)).toBe(true)
    const committed = Object.values(await countsOf(targetDb)).reduce((sum, n) => sum + n, 0)
    expect(committed).toBeGreaterThan(0)
    expect(committed).toBeLessThan(total)

    const resumed = await runCli([...args, '--json'], {env: {ENCRYPTION_KEY: fixture.encryptionKey}})

    expect(resumed.code, resumed.stderr).toBe(0)
    const doc = onlyJson(resumed)
    expect(doc).toMatchObject({outcome: 'resumed', verified: true})
    // What the killed run committed plus what this run wrote is exactly the source: nothing twice.
    const copiedNow = doc.tables.reduce((sum: number, table: {copiedThisRun: number}) => sum + table.copiedThisRun, 0)
    expect(committed + copiedNow).toBe(total)
    expect(await dumpAll(targetDb)).toEqual(await dumpAll(sourceDb))
    expect(await progressTableExists(targetDb)).toBe(false)
  })

  it('refuses to resume when the source changed since the killed run, and starts over with --truncate --yes', async () => {
    await migrateTarget()
    const args = ['db', 'copy', '--from', source.url, '--to', target.url, '--batch-size', '10']
    const killed = await runUntilFirstBatchThenKill(args)
    expect(killed.signal).toBe('SIGKILL')
    const sourceDb = await source.open({create: false})
    sourceDb.sqlite!.prepare(`UPDATE tenants SET name = 'Renamed' WHERE id = ?`).run(TENANTS.acme.id)
    const targetDb = await target.open()
    const before = await dumpAll(targetDb)

    const refused = await runCli(args)

    expect(refused.code).toBe(3)
    expect(refused.stderr).toContain('COPY_SOURCE_CHANGED')
    expect(refused.stderr).toContain('--truncate --yes')
    expect(await dumpAll(targetDb)).toEqual(before)

    const restarted = await runCli([...args, '--truncate', '--yes', '--json'])
    expect(restarted.code, restarted.stderr).toBe(0)
    expect(onlyJson(restarted)).toMatchObject({outcome: 'copied', verified: true})
    expect(await dumpAll(targetDb)).toEqual(await dumpAll(sourceDb))
  })

  it('exits non-zero naming the table whose checksum differs after the copy', async () => {
    await migrateTarget()
    const targetDb = await target.open()
    // A trigger on the target rewrites what arrives: the copy completes, verification must catch it.
    await sql`CREATE FUNCTION mangle_contact() RETURNS trigger AS $$ BEGIN NEW.name := upper(NEW.name); RETURN NEW; END $$ LANGUAGE plpgsql`.execute(targetDb.db)
    await sql`CREATE TRIGGER mangle BEFORE INSERT ON contacts FOR EACH ROW EXECUTE FUNCTION mangle_contact()`.execute(targetDb.db)

    const result = await copy()

    expect(result.code).toBe(4)
    expect(result.stderr).toContain('COPY_VERIFICATION_FAILED')
    expect(result.stderr).toMatch(/Verification failed: contacts \(source 3 rows, target 3 rows, checksums differ\)/)
    expect(result.stdout).toMatch(/^contacts\s+3\s+3\s+[\d.]+\s+\d+\s+✗/m)
    expect(result.stdout).toMatch(/^tenants\s+\d+\s+\d+\s+[\d.]+\s+\d+\s+✓/m)
    const json = await copy('--json')
    expect(json.code).toBe(2)
    expect(onlyJson(json).error.code).toBe('COPY_TARGET_NOT_EMPTY')
  })

  it('refuses a target at another migration version, naming the difference, and writes nothing', async () => {
    await migrateTarget('--to', '0003')
    const targetDb = await target.open()
    const before = await dumpAll(targetDb)

    const result = await copy()

    expect(result.code).toBe(4)
    expect(result.stderr).toContain('COPY_VERSION_MISMATCH')
    expect(result.stderr).toMatch(/applied only in the source: 0004-local-message-queue/)
    expect(await dumpAll(targetDb)).toEqual(before)
    expect(await progressTableExists(targetDb)).toBe(false)
  })

  it('refuses a target that was never migrated, with the command that prepares it', async () => {
    const result = await copy()

    expect(result.code).toBe(4)
    expect(result.stderr).toContain('COPY_TARGET_NOT_MIGRATED')
    expect(result.stderr).toContain(`engage migrate up --database-url ${target.url}`)
    const targetDb = await target.open()
    expect(await listTables(targetDb.db, 'postgres')).toEqual([])
  })

  it('refuses a non-empty target unless --truncate --yes; --truncate without --yes and no terminal names --yes', async () => {
    await migrateTarget()
    const targetDb = await target.open()
    await targetDb.db.insertInto('tenants').values({id: 'ten_stray', slug: 'stray', name: 'Stray', created_at: 'now'}).execute()
    const before = await dumpAll(targetDb)

    const refused = await copy()
    const noYes = await copy('--truncate')

    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('COPY_TARGET_NOT_EMPTY')
    expect(refused.stderr).toContain('tenants')
    expect(refused.stderr).toContain('--truncate --yes')
    expect(noYes.code).toBe(2)
    expect(noYes.stderr).toContain('--yes')
    expect(await dumpAll(targetDb)).toEqual(before)

    const truncated = await copy('--truncate', '--yes', '--json')
    expect(truncated.code, truncated.stderr).toBe(0)
    expect(onlyJson(truncated).truncated).toContain('tenants')
    const sourceDb = await source.open({create: false})
    expect(await dumpAll(targetDb)).toEqual(await dumpAll(sourceDb))
  })

  it('refuses a target whose schema drifted (a hand-made column), naming it', async () => {
    await migrateTarget()
    const targetDb = await target.open()
    await targetDb.db.schema.alterTable('contacts').addColumn('nickname', 'text').execute()

    const result = await copy()

    expect(result.code).toBe(4)
    expect(result.stderr).toContain('contacts: columns only in the target: nickname')
    expect((await countsOf(targetDb)).tenants).toBe(0)
  })

  it('fails clearly on an unreachable target, before touching anything', async () => {
    const port = await closedPort()
    const unreachable = `postgres://postgres@127.0.0.1:${port}/engage`

    const result = await runCli(['db', 'copy', '--from', source.url, '--to', unreachable])

    expect(result.code).toBe(3)
    expect(result.stderr).toContain('DATABASE_UNREACHABLE')
    expect(result.stderr).toContain(`127.0.0.1:${port}`)
  })

  it('fails clearly on a missing source file', async () => {
    await migrateTarget()

    const result = await runCli(['db', 'copy', '--from', `sqlite:${source.dir}/missing.db`, '--to', target.url])

    expect(result.code).toBe(3)
    expect(result.stderr).toContain('DATABASE_NOT_FOUND')
    const targetDb = await target.open()
    expect(await progressTableExists(targetDb)).toBe(false)
  })
})

/** Spawns the CLI and SIGKILLs it as soon as it reports its first committed batch on stderr. */
function runUntilFirstBatchThenKill(args: string[]): Promise<{signal: NodeJS.Signals | null; stderr: string}> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI_ARGV, ...args], {
      cwd: PROJECT_ROOT,
      env: {PATH: process.env.PATH, HOME: process.env.HOME},
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
    child.stderr.on('data', (chunk) => {
      stderr += chunk
      if (/rows committed/.test(stderr) && child.exitCode === null) child.kill('SIGKILL')
    })
    child.on('error', reject)
    child.on('close', (_code, signal) => {
      clearTimeout(timer)
      resolve({signal, stderr})
    })
  })
}
