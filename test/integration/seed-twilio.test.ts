import {afterAll, afterEach, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import {Keyring, parseEncryptionKey} from '../../src/crypto/encryption-key.js'
import {decryptJson} from '../../src/crypto/envelope.js'
import type {Database} from '../../src/db/database.js'
import {startTwilioSandbox, type TwilioSandbox} from '../../src/twilio-sandbox/server.js'
import {DIALECTS, type TestDatabase} from '../support/databases.js'
import {runCli} from '../support/run-cli.js'
import {closedPort, expectNoSecrets, migratedDatabase, newKey, parseJson, snapshotSettings, twilioSeed} from '../support/seed-fixtures.js'

describe.each(DIALECTS)('engage seed twilio (%s)', (dialect) => {
  const fixture = twilioSeed()
  const key = newKey()
  let sandbox: TwilioSandbox
  let testDb: TestDatabase
  let database: Database

  beforeAll(async () => {
    sandbox = await startTwilioSandbox({seed: fixture.seed})
  })
  afterAll(async () => {
    await sandbox.stop()
  })
  beforeEach(async () => {
    testDb = await migratedDatabase(dialect)
    database = await testDb.open()
  })
  afterEach(async () => {
    await testDb.dispose()
  })

  const env = (extra: Record<string, string | undefined> = {}) => ({
    ENCRYPTION_KEY: key.hex,
    TWILIO_API_BASE_URL: sandbox.url,
    TWILIO_AUTH_TOKEN: fixture.authToken,
    WEBHOOK_BASE_URL: 'https://hooks.example.com',
    ...extra,
  })
  const seedArgs = (extra: string[] = []) => [
    'seed',
    'twilio',
    '--database-url',
    testDb.url,
    '--tenant',
    'acme',
    '--account-sid',
    fixture.accountSid,
    '--messaging-service-sid',
    fixture.serviceSid,
    ...extra,
  ]
  const createAcme = ['--create-tenant', '--name', 'Acme Ltd']
  const rowsOf = () => database.db.selectFrom('tenant_channel_settings').selectAll().orderBy('channel').execute()

  it('creates the tenant and one verified row per channel, credentials encrypted', async () => {
    const result = await runCli(seedArgs([...createAcme, '--from', '+15005550006', '--whatsapp-from', 'whatsapp:+15005550008']), {env: env()})

    expect(result.stderr).not.toContain('Error')
    expect(result.code).toBe(0)
    expect(result.stdout).toContain(`${fixture.accountSid.slice(0, 4)}…${fixture.accountSid.slice(-4)}`)
    expect(result.stdout).not.toContain(fixture.accountSid)
    expectNoSecrets(result, [fixture.authToken])
    const tenant = await database.db.selectFrom('tenants').selectAll().where('slug', '=', 'acme').executeTakeFirstOrThrow()
    expect(tenant.name).toBe('Acme Ltd')
    const rows = await rowsOf()
    expect(rows.map((row) => [row.channel, row.provider, row.sender, Number(row.is_enabled), Number(row.is_verified)])).toEqual([
      ['sms', 'twilio', '+15005550006', 1, 1],
      ['whatsapp', 'twilio', '+15005550008', 1, 1],
    ])
    for (const row of rows) {
      expect(row.tenant_id).toBe(tenant.id)
      expect(row.verified_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
      expect(row.verification_error).toBeNull()
      expect(row.messaging_service_sid).toBe(fixture.serviceSid)
      expect(row.webhook_url).toBe('https://hooks.example.com/webhooks/twilio')
      expect(JSON.parse(row.provider_config_json)).toEqual({accountSid: fixture.accountSid})
      expect(row.credentials_encrypted).toMatch(new RegExp(`^ev1\\.${key.id}\\.`))
      expect(row.credentials_encrypted).not.toContain(fixture.authToken)
      const credentials = decryptJson(parseEncryptionKey(key.hex), row.credentials_encrypted, {tenantId: tenant.id, channel: row.channel, field: 'credentials'})
      expect(credentials).toEqual({accountSid: fixture.accountSid, authToken: fixture.authToken})
    }
  })

  it('re-seeding updates the same row in place (idempotent, one row per tenant and channel)', async () => {
    const first = await runCli(seedArgs([...createAcme, '--from', '+15005550006', '--json']), {env: env()})
    expect(first.code).toBe(0)
    const [before] = await rowsOf()
    await runCli(['settings', 'disable', '--database-url', testDb.url, '--tenant', 'acme', '--channel', 'sms'], {env: env()})

    const again = await runCli(seedArgs(['--from', '+15005550007', '--webhook-url', 'https://other.example.com/cb', '--json']), {env: env()})

    expect(again.code).toBe(0)
    const report = parseJson<{tenant: {created: boolean}; channels: Array<{action: string; id: number}>}>(again)
    expect(report.tenant.created).toBe(false)
    expect(report.channels).toMatchObject([{action: 'updated', id: Number(before!.id)}])
    const rows = await rowsOf()
    expect(rows).toHaveLength(1)
    const [after] = rows
    expect(after!.id).toBe(before!.id)
    expect(after!.created_at).toBe(before!.created_at)
    expect(after!.sender).toBe('+15005550007')
    expect(after!.webhook_url).toBe('https://other.example.com/cb')
    expect(after!.updated_at > before!.updated_at).toBe(true)
    expect(after!.credentials_encrypted).not.toBe(before!.credentials_encrypted)
    // The operator's disable survives a credential refresh.
    expect(Number(after!.is_enabled)).toBe(0)
    expect(await database.db.selectFrom('tenants').select('id').execute()).toHaveLength(1)
  })

  it('takes the auth token from stdin with --auth-token-stdin', async () => {
    const result = await runCli(seedArgs([...createAcme, '--from', '+15005550006', '--auth-token-stdin']), {
      env: env({TWILIO_AUTH_TOKEN: undefined}),
      input: `${fixture.authToken}\n`,
    })

    expect(result.code).toBe(0)
    expectNoSecrets(result, [fixture.authToken])
    const [row] = await rowsOf()
    expect(Number(row!.is_verified)).toBe(1)
  })

  it('--no-verify stores the settings unverified without calling Twilio', async () => {
    const port = await closedPort()
    const result = await runCli(seedArgs([...createAcme, '--from', '+15005550006', '--no-verify']), {
      env: env({TWILIO_API_BASE_URL: `http://127.0.0.1:${port}`}),
    })

    expect(result.code).toBe(0)
    const [row] = await rowsOf()
    expect(Number(row!.is_verified)).toBe(0)
    expect(row!.verified_at).toBeNull()
  })

  describe('refuses bad input with a clear message and writes nothing', () => {
    // An existing verified row the failing runs must leave exactly as it was.
    beforeEach(async () => {
      const seeded = await runCli(seedArgs([...createAcme, '--from', '+15005550006']), {env: env()})
      expect(seeded.code).toBe(0)
    })

    const cases: Array<[string, () => string[], () => Record<string, string | undefined>, number, RegExp]> = [
      ['a wrong auth token (20003 shown)', () => seedArgs(['--from', '+15005550007']), () => env({TWILIO_AUTH_TOKEN: 'f'.repeat(32)}), 6, /20003: Authenticate/],
      [
        'an unknown tenant without --create-tenant',
        () => [...seedArgs(['--from', '+15005550007']).map((arg) => (arg === 'acme' ? 'globex' : arg))],
        () => env(),
        7,
        /No tenant with slug or id "globex"[\s\S]*--create-tenant/,
      ],
      ['a malformed account SID', () => seedArgs(['--from', '+15005550007']).map((arg) => (arg === fixture.accountSid ? 'AC123' : arg)), () => env(), 2, /--account-sid is not a Twilio account SID/],
      [
        'a malformed messaging service SID',
        () => seedArgs(['--from', '+15005550007']).map((arg) => (arg === fixture.serviceSid ? `MG${'z'.repeat(32)}` : arg)),
        () => env(),
        2,
        /--messaging-service-sid is not a Twilio messaging service SID/,
      ],
      ['an SMS sender not in E.164', () => seedArgs(['--from', '0044 20 7946 0000']), () => env(), 2, /--from "0044 20 7946 0000" is not an E.164 phone number/],
      ['a WhatsApp sender not in E.164', () => seedArgs(['--whatsapp-from', 'whatsapp:12345']), () => env(), 2, /--whatsapp-from "whatsapp:12345" is not an E.164/],
      ['a sender that is not in the messaging service', () => seedArgs(['--from', '+15005550199']), () => env(), 6, /\+15005550199 is not a sender of messaging service/],
      ['a suspended account', () => [
        'seed', 'twilio', '--database-url', testDb.url, '--tenant', 'acme', '--account-sid', fixture.suspendedSid,
        '--messaging-service-sid', fixture.suspendedServiceSid, '--from', '+15005550009',
      ], () => env({TWILIO_AUTH_TOKEN: fixture.suspendedToken}), 6, /is suspended, not active/],
      ['an unreachable Twilio', () => seedArgs(['--from', '+15005550007']), () => ({...env(), TWILIO_API_BASE_URL: 'CLOSED'}), 6, /Twilio is unreachable at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/],
      [
        'missing values without a terminal (names the flags)',
        () => ['seed', 'twilio', '--database-url', testDb.url, '--tenant', 'acme', '--from', '+15005550007'],
        () => env({TWILIO_AUTH_TOKEN: undefined}),
        2,
        /Missing --account-sid, TWILIO_AUTH_TOKEN \(or --auth-token-stdin\), --messaging-service-sid \(no terminal to ask in\)/,
      ],
      ['a missing ENCRYPTION_KEY', () => seedArgs(['--from', '+15005550007']), () => env({ENCRYPTION_KEY: undefined}), 5, /ENCRYPTION_KEY is not set/],
    ]

    it.each(cases)('%s', async (_name, args, makeEnv, exitCode, message) => {
      const before = await snapshotSettings(database)
      const runEnv = makeEnv()
      if (runEnv.TWILIO_API_BASE_URL === 'CLOSED') runEnv.TWILIO_API_BASE_URL = `http://127.0.0.1:${await closedPort()}`

      const result = await runCli(args(), {env: runEnv})

      expect(result.code).toBe(exitCode)
      expect(result.stderr).toMatch(message)
      expect(result.stdout).toBe('')
      expectNoSecrets(result, [fixture.authToken, fixture.suspendedToken, 'f'.repeat(32)])
      expect(await snapshotSettings(database)).toEqual(before)
    })

    it('a failed verification with --create-tenant does not create the tenant', async () => {
      const before = await snapshotSettings(database)

      const result = await runCli(
        [...seedArgs(['--from', '+15005550006', '--create-tenant', '--name', 'Initech'])].map((arg) => (arg === 'acme' ? 'initech' : arg)),
        {env: env({TWILIO_AUTH_TOKEN: 'e'.repeat(32)})},
      )

      expect(result.code).toBe(6)
      expect(result.stderr).toContain('Nothing was written')
      expect(await snapshotSettings(database)).toEqual(before)
    })

    it('--json failures print one JSON error document with the Twilio code', async () => {
      const result = await runCli([...seedArgs(['--from', '+15005550007']), '--json'], {env: env({TWILIO_AUTH_TOKEN: 'f'.repeat(32)})})

      expect(result.code).toBe(6)
      const body = parseJson<{error: {code: string; details: {twilioCode: number; verificationError: string}}}>(result)
      expect(body.error.code).toBe('TWILIO_AUTHENTICATE')
      expect(body.error.details).toMatchObject({twilioCode: 20003, verificationError: '20003: Authenticate'})
    })
  })

  it('keeps a Keyring-readable value after seeding twice with different keys', async () => {
    const first = await runCli(seedArgs([...createAcme, '--from', '+15005550006']), {env: env()})
    expect(first.code).toBe(0)
    const other = newKey()

    const second = await runCli(seedArgs(['--from', '+15005550006']), {env: env({ENCRYPTION_KEY: other.hex})})

    expect(second.code).toBe(0)
    const [row] = await rowsOf()
    // A re-seed writes under the key in force, so the row moves to it.
    expect(row!.credentials_encrypted).toMatch(new RegExp(`^ev1\\.${other.id}\\.`))
    const keyring = new Keyring(parseEncryptionKey(other.hex))
    expect(decryptJson(keyring, row!.credentials_encrypted, {tenantId: row!.tenant_id, channel: 'sms', field: 'credentials'})).toMatchObject({authToken: fixture.authToken})
  })
})
