import {spawn} from 'node:child_process'
import {createHash} from 'node:crypto'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {credentialsContext, sealCredentials, webhookSecretContext} from '../../src/channel-settings/credentials.js'
import {upsertChannelSettings} from '../../src/channel-settings/settings-repository.js'
import {ENCRYPTED_COLUMNS} from '../../src/crypto/encrypted-columns.js'
import {Keyring, parseEncryptionKey} from '../../src/crypto/encryption-key.js'
import {decryptField, encryptField} from '../../src/crypto/envelope.js'
import {inWriteTransaction, type Database} from '../../src/db/database.js'
import {createTenant} from '../../src/tenants/tenant-repository.js'
import {DIALECTS, type TestDatabase} from '../support/databases.js'
import {CLI_ARGV, PROJECT_ROOT, runCli, type CliResult} from '../support/run-cli.js'
import {migratedDatabase, newKey, parseJson} from '../support/seed-fixtures.js'

const ACCOUNT_SID = `AC${'0123456789abcdef'.repeat(2)}`
/** The auth token a seeded row holds, derived so the test can check every decrypted value. */
const tokenOf = (slug: string, channel: string) => createHash('sha256').update(`${slug}/${channel}`).digest('hex').slice(0, 32)
const secretOf = (slug: string) => `whsec_${createHash('sha256').update(slug).digest('hex').slice(0, 24)}`

/**
 * `tenants` tenants with sms and whatsapp rows, credentials under `key`,
 * a webhook secret on every fifth sms row, and `archived` archive rows:
 * written through the repository in one transaction.
 */
async function seedRows(database: Database, key: Keyring, tenants: number, archived = 10): Promise<void> {
  const now = new Date().toISOString()
  await inWriteTransaction(database, async (trx) => {
    for (let index = 0; index < tenants; index++) {
      const tenant = await createTenant(trx, {slug: `t${index}`, name: `Tenant ${index}`, now})
      for (const channel of ['sms', 'whatsapp'] as const) {
        await upsertChannelSettings(trx, {
          tenantId: tenant.id,
          channel,
          provider: 'twilio',
          sender: '+15005550006',
          providerConfig: {accountSid: ACCOUNT_SID},
          credentialsEncrypted: sealCredentials(key, tenant.id, channel, {accountSid: ACCOUNT_SID, authToken: tokenOf(tenant.slug, channel)}),
          messagingServiceSid: null,
          webhookSecretEncrypted:
            channel === 'sms' && index % 5 === 0 ? encryptField(key.current, secretOf(tenant.slug), webhookSecretContext(tenant.id, channel)) : undefined,
          isVerified: true,
          verifiedAt: now,
          verificationError: null,
          now,
        })
      }
    }
    for (let id = 1; id <= archived; id++) {
      await trx
        .insertInto('tenant_channel_credentials_archive')
        .values({
          id,
          tenant_id: `gone-${id}`,
          channel: 'sms',
          provider: 'twilio',
          credentials_encrypted: encryptField(key.current, `{"archived":${id}}`, {tenantId: `gone-${id}`, channel: 'sms', field: `archive:${id}:credentials`}),
          webhook_secret_encrypted: encryptField(key.current, `archived-secret-${id}`, {tenantId: `gone-${id}`, channel: 'sms', field: `archive:${id}:webhook_secret`}),
          is_verified: 0,
          created_at: now,
          updated_at: now,
          reason: 'orphaned',
          settings_created: 0,
          archived_at: now,
        })
        .execute()
    }
  })
}

/** Every registered encrypted value with its row, for checking after a rotation. */
async function allValues(database: Database) {
  const values: Array<{table: string; column: string; id: number; tenant_id: string; channel: string; value: string}> = []
  for (const entry of ENCRYPTED_COLUMNS) {
    const rows = await database.db.selectFrom(entry.table).select(['id', 'tenant_id', 'channel', `${entry.column} as value`]).where(entry.column, 'is not', null).execute()
    for (const row of rows) values.push({table: entry.table, column: entry.column, id: Number(row.id), tenant_id: row.tenant_id, channel: row.channel, value: row.value})
  }
  return values
}

const keyIdsOf = (values: Array<{value: string}>) => {
  const counts: Record<string, number> = {}
  for (const {value} of values) counts[value.split('.')[1]!] = (counts[value.split('.')[1]!] ?? 0) + 1
  return counts
}

/** Spawns the CLI and SIGKILLs it as soon as stderr shows a line matching `trigger`. */
function runAndKill(args: string[], env: Record<string, string>, trigger: RegExp): Promise<CliResult & {killed: boolean}> {
  const node = [...CLI_ARGV, ...args]
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, node, {cwd: PROJECT_ROOT, env: {PATH: process.env.PATH, HOME: process.env.HOME, ...env}, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    let killed = false
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => {
      stderr += chunk
      if (!killed && trigger.test(stderr)) {
        killed = true
        child.kill('SIGKILL')
      }
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({code, signal, stdout, stderr, killed})
    })
  })
}

describe('engage keys generate', () => {
  it('prints one new 64-hex key on stdout and only its id on stderr', async () => {
    const first = await runCli(['keys', 'generate'])
    const second = await runCli(['keys', 'generate', '--json'])

    expect(first.code).toBe(0)
    expect(first.stdout).toMatch(/^[0-9a-f]{64}\n$/)
    const key = first.stdout.trim()
    expect(first.stderr).toContain(`Key id ${parseEncryptionKey(key).id}`)
    expect(first.stderr).not.toContain(key)
    const generated = parseJson<{key: string; keyId: string}>(second)
    expect(generated.key).toMatch(/^[0-9a-f]{64}$/)
    expect(generated.key).not.toBe(key)
    expect(generated.keyId).toBe(parseEncryptionKey(generated.key).id)
  })
})

describe.each(DIALECTS)('engage keys check / rotate (%s)', (dialect) => {
  const oldKey = newKey()
  const freshKey = newKey()
  let testDb: TestDatabase
  let database: Database

  beforeEach(async () => {
    testDb = await migratedDatabase(dialect)
    database = await testDb.open()
  })
  afterEach(async () => {
    await testDb.dispose()
  })
  const keys = (args: string[], env: Record<string, string>) => runCli(['keys', ...args, '--database-url', testDb.url], {env})

  it('check counts values per key id and passes when all decrypt', async () => {
    await seedRows(database, new Keyring(parseEncryptionKey(oldKey.hex)), 5, 3)

    const result = await keys(['check', '--json'], {ENCRYPTION_KEY: oldKey.hex})

    expect(result.code).toBe(0)
    const report = parseJson<{total: number; byKey: Record<string, number>; failures: unknown[]}>(result)
    // 10 credentials, 1 webhook secret (tenant t0), 3 + 3 archive values.
    expect(report).toMatchObject({total: 17, byKey: {[oldKey.id]: 17}, failures: []})
  })

  it('check exits 5 naming rows that do not decrypt, never their values', async () => {
    await seedRows(database, new Keyring(parseEncryptionKey(oldKey.hex)), 3, 0)
    const [first, second] = await database.db.selectFrom('tenant_channel_settings').selectAll().orderBy('id').execute()
    // One value under a key nobody configured, one moved to another row (its context no longer matches).
    const stranger = parseEncryptionKey(newKey().hex)
    await database.db
      .updateTable('tenant_channel_settings')
      .set({credentials_encrypted: encryptField(stranger, 'plaintext-that-must-not-show', credentialsContext(first!.tenant_id, first!.channel))})
      .where('id', '=', first!.id)
      .execute()
    await database.db.updateTable('tenant_channel_settings').set({credentials_encrypted: first!.credentials_encrypted}).where('id', '=', second!.id).execute()

    const result = await keys(['check'], {ENCRYPTION_KEY: oldKey.hex})

    expect(result.code).toBe(5)
    expect(result.stderr).toContain(`tenant_channel_settings#${first!.id} credentials_encrypted (ENCRYPTION_KEY_UNKNOWN, key ${stranger.id})`)
    expect(result.stderr).toContain(`tenant_channel_settings#${second!.id} credentials_encrypted (DECRYPT_FAILED`)
    expect(result.stdout + result.stderr).not.toContain('plaintext-that-must-not-show')
    expect(result.stdout + result.stderr).not.toContain(tokenOf('t0', 'sms'))
  })

  it('rotation killed with SIGKILL half-way resumes to completion; check then passes without the previous key', async () => {
    await seedRows(database, new Keyring(parseEncryptionKey(oldKey.hex)), 1000, 20)
    const before = await allValues(database)
    expect(before).toHaveLength(2000 + 200 + 40)
    const rotateEnv = {ENCRYPTION_KEY: freshKey.hex, ENCRYPTION_KEY_PREVIOUS: oldKey.hex}

    const killed = await runAndKill(['keys', 'rotate', '--database-url', testDb.url, '--batch-size', '5', '--log-level', 'debug'], rotateEnv, /^debug: rotate /m)

    expect(killed.killed).toBe(true)
    expect(killed.signal).toBe('SIGKILL')
    const midway = await allValues(database)
    const midwayCounts = keyIdsOf(midway)
    // Half-way: some values moved, some not, and every one still decrypts with the keyring.
    expect(midwayCounts[freshKey.id]).toBeGreaterThan(0)
    expect(midwayCounts[oldKey.id]).toBeGreaterThan(0)
    const both = new Keyring(parseEncryptionKey(freshKey.hex), [parseEncryptionKey(oldKey.hex)])
    const contextOf = (value: (typeof midway)[number]) => ENCRYPTED_COLUMNS.find((entry) => entry.table === value.table && entry.column === value.column)!.context(value)
    for (const value of midway) expect(() => decryptField(both, value.value, contextOf(value))).not.toThrow()

    const resumed = await keys(['rotate', '--batch-size', '50', '--json'], rotateEnv)

    expect(resumed.code).toBe(0)
    const report = parseJson<{reencrypted: number; alreadyCurrent: number; failed: number}>(resumed)
    expect(report.reencrypted).toBe(midwayCounts[oldKey.id])
    expect(report.alreadyCurrent).toBe(midwayCounts[freshKey.id])
    expect(report.failed).toBe(0)
    const after = await allValues(database)
    expect(keyIdsOf(after)).toEqual({[freshKey.id]: before.length})
    const onlyFresh = parseEncryptionKey(freshKey.hex)
    const plaintextBefore = new Map(before.map((value) => [`${value.table}.${value.column}#${value.id}`, decryptField(parseEncryptionKey(oldKey.hex), value.value, contextOf(value)).toString('utf8')]))
    for (const value of after) {
      expect(decryptField(onlyFresh, value.value, contextOf(value)).toString('utf8')).toBe(plaintextBefore.get(`${value.table}.${value.column}#${value.id}`))
    }
    const check = await keys(['check', '--json'], {ENCRYPTION_KEY: freshKey.hex})
    expect(check.code).toBe(0)
    expect(parseJson<{byKey: Record<string, number>}>(check).byKey).toEqual({[freshKey.id]: before.length})
    expect(killed.stderr + resumed.stdout + resumed.stderr).not.toContain(tokenOf('t1', 'sms'))
  })

  it('rotate refuses without ENCRYPTION_KEY_PREVIOUS when values are under another key, changing nothing', async () => {
    await seedRows(database, new Keyring(parseEncryptionKey(oldKey.hex)), 3, 1)
    const before = await allValues(database)

    const result = await keys(['rotate'], {ENCRYPTION_KEY: freshKey.hex})

    expect(result.code).toBe(2)
    expect(result.stderr).toContain('ENCRYPTION_KEY_PREVIOUS is not set')
    expect(await allValues(database)).toEqual(before)
  })

  it('rotate with everything current is success and says so', async () => {
    await seedRows(database, new Keyring(parseEncryptionKey(freshKey.hex)), 2, 1)

    const result = await keys(['rotate'], {ENCRYPTION_KEY: freshKey.hex, ENCRYPTION_KEY_PREVIOUS: oldKey.hex})

    expect(result.code).toBe(0)
    expect(result.stdout).toContain('Nothing to rotate: all 7 values are already under key')
  })

  it('rotate leaves a value it cannot decrypt untouched, rotates the rest, and exits 5 naming it', async () => {
    await seedRows(database, new Keyring(parseEncryptionKey(oldKey.hex)), 3, 0)
    const victim = await database.db.selectFrom('tenant_channel_settings').selectAll().orderBy('id').executeTakeFirstOrThrow()
    const stray = encryptField(parseEncryptionKey(newKey().hex), 'x', credentialsContext(victim.tenant_id, victim.channel))
    await database.db.updateTable('tenant_channel_settings').set({credentials_encrypted: stray}).where('id', '=', victim.id).execute()

    const result = await keys(['rotate'], {ENCRYPTION_KEY: freshKey.hex, ENCRYPTION_KEY_PREVIOUS: oldKey.hex})

    expect(result.code).toBe(5)
    expect(result.stderr).toContain(`tenant_channel_settings#${victim.id} credentials_encrypted (ENCRYPTION_KEY_UNKNOWN)`)
    const after = await allValues(database)
    expect(after.find((value) => value.table === 'tenant_channel_settings' && value.column === 'credentials_encrypted' && value.id === victim.id)!.value).toBe(stray)
    expect(keyIdsOf(after)[freshKey.id]).toBe(after.length - 1)
  })
})
