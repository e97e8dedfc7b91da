import {spawn} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {afterEach, describe, expect, it} from 'vitest'
import {encryptLegacy} from '../../src/crypto/legacy-cbc.js'
import {createTestDatabase, DIALECTS, type TestDatabase} from '../support/databases.js'
import {buildLegacyFixture, dumpLegacyTables, type LegacyDump, type LegacyFixture} from '../support/legacy-fixture.js'
import {generateLegacyDatabase} from '../support/legacy-generator.js'
import {snapshotConsolidated} from '../support/legacy-consolidated.js'
import {CLI_ARGV, PROJECT_ROOT, runCli} from '../support/run-cli.js'

const MIGRATION = '0002-channel-settings-consolidation'

describe.each(DIALECTS)('channel-settings consolidation refuses bad input on %s', (dialect) => {
  const created: TestDatabase[] = []
  afterEach(async () => {
    await Promise.all(created.splice(0).map((database) => database.dispose()))
  })

  const fresh = async () => {
    const database = await createTestDatabase(dialect)
    created.push(database)
    return database
  }
  const dump = async (testDatabase: TestDatabase): Promise<LegacyDump> => {
    const database = await testDatabase.open()
    try {
      return await dumpLegacyTables(database)
    } finally {
      await database.close()
    }
  }
  const up = (testDatabase: TestDatabase, env: Record<string, string | undefined>, ...extra: string[]) =>
    runCli(['migrate', 'up', '--database-url', testDatabase.url, ...extra], {env})

  async function fixture(): Promise<{testDatabase: TestDatabase; legacy: LegacyFixture; before: LegacyDump}> {
    const testDatabase = await fresh()
    const legacy = await buildLegacyFixture(testDatabase)
    return {testDatabase, legacy, before: await dump(testDatabase)}
  }

  it.each([
    ['missing', undefined, /ENCRYPTION_KEY is not set/],
    ['31 bytes', randomBytes(31).toString('hex'), /decodes to 31 bytes/],
    ['33 bytes', randomBytes(33).toString('hex'), /decodes to 33 bytes/],
    ['neither hex nor base64', 'not a key: ' + randomBytes(6).toString('hex') + '!', /neither hex nor base64/],
  ])('ENCRYPTION_KEY %s: refused before any change', async (_name, key, message) => {
    const {testDatabase, before} = await fixture()

    const result = await up(testDatabase, {ENCRYPTION_KEY: key})

    expect(result.code).toBe(5)
    expect(result.stderr).toMatch(message)
    if (key) expect(result.stderr + result.stdout).not.toContain(key)
    expect(await dump(testDatabase)).toEqual(before)
  })

  it('the wrong key: every row fails, refused as a key problem, nothing changed', async () => {
    const {testDatabase, before} = await fixture()
    const wrong = randomBytes(32).toString('hex')

    const result = await up(testDatabase, {ENCRYPTION_KEY: wrong})

    expect(result.code).toBe(5)
    expect(result.stderr).toMatch(/None of the 14 legacy credential rows decrypts with ENCRYPTION_KEY/)
    expect(result.stderr).toMatch(/probably not the key the backend used/)
    expect(result.stderr + result.stdout).not.toContain(wrong)
    expect(await dump(testDatabase)).toEqual(before)
  })

  describe('corrupt legacy rows', () => {
    async function corrupted() {
      const testDatabase = await fresh()
      const legacy = await buildLegacyFixture(testDatabase)
      const key = Buffer.from(legacy.encryptionKey, 'hex')
      const database = await testDatabase.open()
      const set = (id: number, value: string) =>
        database.db.updateTable('tenant_channel_credentials_v2').set({credentials_encrypted: value}).where('id', '=', id).execute()
      // Valid padding, but not UTF-8 JSON: what a wrong key sometimes yields.
      await set(3, encryptLegacy(key, Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x22]), randomBytes(16)))
      // Valid JSON without the provider's fields.
      await set(6, encryptLegacy(key, JSON.stringify({accountSid: 'AC00'}), randomBytes(16)))
      // Truncated hex; row 13 is the live row of its pair.
      const live = await database.db.selectFrom('tenant_channel_credentials_v2').select('credentials_encrypted').where('id', '=', 13).executeTakeFirstOrThrow()
      await set(13, live.credentials_encrypted.slice(0, -7))
      await database.close()
      return {testDatabase, legacy, before: await dump(testDatabase)}
    }

    it('stop the migration before any change, naming the row ids', async () => {
      const {testDatabase, legacy, before} = await corrupted()

      const result = await up(testDatabase, {ENCRYPTION_KEY: legacy.encryptionKey})

      expect(result.code).toBe(4)
      expect(result.stderr).toMatch(/3 of 14 legacy credential rows do not decrypt to valid credentials \(tenant_channel_credentials_v2 ids 3, 6, 13\)/)
      expect(result.stderr).toMatch(/--archive-undecryptable/)
      expect(await dump(testDatabase)).toEqual(before)
    })

    it('with --archive-undecryptable are archived verbatim, the rest migrates, and down restores them', async () => {
      const {testDatabase, legacy, before} = await corrupted()
      const env = {ENCRYPTION_KEY: legacy.encryptionKey}

      const result = await up(testDatabase, env, '--archive-undecryptable', '--json')

      expect(result.code, result.stderr).toBe(0)
      const report = (JSON.parse(result.stdout) as {migrations: {name: string; report?: unknown}[]}).migrations.find((m) => m.name === MIGRATION)?.report
      expect(report).toEqual({
        legacyCredentialRows: 14,
        // Row 13 was the live row of (o'brien, sms): that pair gets no credentials, not the superseded row 14.
        merge: {intoExistingSettings: 4, createdDisabledSettings: 3},
        settingsRowsUnchanged: 3,
        archive: {total: 14, byReason: {merged: 7, superseded: 3, orphaned: 1, undecryptable: 3}},
        undecryptableRowIds: [3, 6, 13],
      })
      const database = await testDatabase.open()
      const archived = await database.db.selectFrom('tenant_channel_credentials_archive').selectAll().where('reason', '=', 'undecryptable').orderBy('id').execute()
      const obrien = await database.db.selectFrom('tenant_channel_settings').selectAll().where('id', '=', 7).executeTakeFirstOrThrow()
      await database.close()
      expect(archived.map((row) => row.id)).toEqual([3, 6, 13])
      expect(archived.every((row) => row.credentials_encrypted === null && /^[0-9a-f]+:[0-9a-f]+$/.test(row.legacy_ciphertext))).toBe(true)
      expect(obrien.credentials_encrypted).toBeNull()

      expect((await runCli(['migrate', 'down', '--to', '0003', '--yes', '--database-url', testDatabase.url], {env})).code).toBe(0)
      const down = await runCli(['migrate', 'down', '--to', MIGRATION, '--yes', '--database-url', testDatabase.url], {env})
      expect(down.code, down.stderr).toBe(0)
      expect(await dump(testDatabase)).toEqual(before)
    })
  })

  it('SIGKILL in the middle of 0002 leaves the pre-migration state; the re-run completes like a clean run', async () => {
    // Two byte-identical legacy databases (the generator is deterministic): one killed, one clean.
    const killed = await fresh()
    const clean = await fresh()
    let key = ''
    for (const testDatabase of [killed, clean]) {
      const database = await testDatabase.open({create: true})
      key = (await generateLegacyDatabase(database, {tenants: 6000, v2Rows: 20_000, seed: 7})).encryptionKey
      await database.close()
    }
    const before = await dump(killed)
    expect(await dump(clean)).toEqual(before)
    const env = {ENCRYPTION_KEY: key}

    const interrupted = await runUntilKilled(['migrate', 'up', '--log-level', 'debug', '--database-url', killed.url], env, /consolidation: converted \d+\/20000/)
    const afterKill = await dump(killed)
    const rerun = await up(killed, env)
    const reference = await up(clean, env)

    expect(interrupted.signal).toBe('SIGKILL')
    // Killed after the first page was written, before the last.
    const converted = Number(/consolidation: converted (\d+)\/20000/.exec(interrupted.stderr)?.[1])
    expect(converted).toBeGreaterThan(0)
    expect(converted).toBeLessThan(20_000)
    expect(interrupted.stderr).not.toMatch(/Applied 0002/)
    expect(afterKill).toEqual(before)
    expect(rerun.code, rerun.stderr).toBe(0)
    expect(reference.code, reference.stderr).toBe(0)
    const snapshot = async (testDatabase: TestDatabase) => {
      const database = await testDatabase.open()
      try {
        return await snapshotConsolidated(database, key)
      } finally {
        await database.close()
      }
    }
    expect(await snapshot(killed)).toEqual(await snapshot(clean))
  })
})

/** Spawns the CLI and SIGKILLs it as soon as stderr matches `trigger`. */
function runUntilKilled(args: string[], env: Record<string, string>, trigger: RegExp): Promise<{code: number | null; signal: NodeJS.Signals | null; stderr: string}> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI_ARGV, ...args], {
      cwd: PROJECT_ROOT,
      env: {PATH: process.env.PATH, HOME: process.env.HOME, ...env},
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
    child.stderr.on('data', (chunk) => {
      stderr += chunk
      if (trigger.test(stderr)) child.kill('SIGKILL')
    })
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({code, signal, stderr})
    })
  })
}
