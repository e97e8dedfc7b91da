import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import type {Database} from '../../src/db/database.js'
import {newAuthToken} from '../../src/twilio-sandbox/ids.js'
import {startTwilioSandbox, type TwilioSandbox} from '../../src/twilio-sandbox/server.js'
import {DIALECTS, type TestDatabase} from '../support/databases.js'
import {runCli} from '../support/run-cli.js'
import {closedPort, expectNoSecrets, migratedDatabase, newKey, parseJson, twilioSeed} from '../support/seed-fixtures.js'

/**
 * A failed verification of exactly what a row stores is recorded on that row
 * (is_verified 0, verification_error with Twilio's code); the command still
 * exits 6 and stores nothing of its input.
 */
describe.each(DIALECTS)('seed twilio records a failed re-verification (%s)', (dialect) => {
  const key = newKey()
  let fixture: ReturnType<typeof twilioSeed>
  let sandbox: TwilioSandbox
  let testDb: TestDatabase
  let database: Database

  beforeEach(async () => {
    fixture = twilioSeed()
    sandbox = await startTwilioSandbox({seed: fixture.seed})
    testDb = await migratedDatabase(dialect)
    database = await testDb.open()
  })
  afterEach(async () => {
    await sandbox.stop()
    await testDb.dispose()
  })

  const env = (extra: Record<string, string> = {}) => ({ENCRYPTION_KEY: key.hex, TWILIO_API_BASE_URL: sandbox.url, TWILIO_AUTH_TOKEN: fixture.authToken, ...extra})
  const seed = (extra: string[] = []) => [
    'seed', 'twilio', '--database-url', testDb.url, '--tenant', 'acme', '--account-sid', fixture.accountSid,
    '--messaging-service-sid', fixture.serviceSid, '--from', '+15005550006', ...extra,
  ]
  const smsRow = () => database.db.selectFrom('tenant_channel_settings').selectAll().where('channel', '=', 'sms').executeTakeFirstOrThrow()

  it('a token revoked at Twilio: 20003 is recorded on the row that stores it, and shown', async () => {
    expect((await runCli(seed(['--create-tenant', '--name', 'Acme']), {env: env()})).code).toBe(0)
    const before = await smsRow()
    expect(Number(before.is_verified)).toBe(1)
    // The account's token is rotated at Twilio: the stored one no longer authenticates.
    await sandbox.seed({accounts: [{sid: fixture.accountSid, authToken: newAuthToken()}]})

    const result = await runCli(seed(['--json']), {env: env()})

    expect(result.code).toBe(6)
    const body = parseJson<{error: {code: string; message: string; details: Record<string, unknown>}}>(result)
    expect(body.error.code).toBe('TWILIO_AUTHENTICATE')
    expect(body.error.details).toMatchObject({twilioCode: 20003, verificationError: '20003: Authenticate', recordedOn: ['sms']})
    expect(body.error.message).toContain('now marked unverified')
    expectNoSecrets(result, [fixture.authToken])
    const after = await smsRow()
    expect(Number(after.is_verified)).toBe(0)
    expect(after.verified_at).toBeNull()
    expect(after.verification_error).toBe('20003: Authenticate')
    // Nothing of the input was stored: same credentials ciphertext, sender, service.
    expect(after.credentials_encrypted).toBe(before.credentials_encrypted)
    expect([after.sender, after.messaging_service_sid, after.is_enabled]).toEqual([before.sender, before.messaging_service_sid, before.is_enabled])
    const shown = await runCli(['settings', 'show', '--database-url', testDb.url, '--tenant', 'acme', '--channel', 'sms'], {env: {ENCRYPTION_KEY: key.hex}})
    expect(shown.stdout).toMatch(/Verified:\s+no/)
    expect(shown.stdout).toMatch(/Verification error:\s+20003: Authenticate/)
  })

  it('an unreachable Twilio is recorded on the row that stores exactly what was checked', async () => {
    expect((await runCli(seed(['--create-tenant', '--name', 'Acme']), {env: env()})).code).toBe(0)
    const before = await smsRow()

    const result = await runCli(seed(), {env: env({TWILIO_API_BASE_URL: `http://127.0.0.1:${await closedPort()}`})})

    expect(result.code).toBe(6)
    expect(result.stderr).toMatch(/Twilio is unreachable at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/)
    expect(result.stdout).toBe('')
    const after = await smsRow()
    expect(Number(after.is_verified)).toBe(0)
    expect(after.verification_error).toBe('unreachable: ECONNREFUSED')
    expect(after.credentials_encrypted).toBe(before.credentials_encrypted)
  })

  it('a failed verification of different values leaves the stored, verified row exactly as it was', async () => {
    expect((await runCli(seed(['--create-tenant', '--name', 'Acme']), {env: env()})).code).toBe(0)
    const before = await smsRow()

    const result = await runCli(seed(), {env: env({TWILIO_AUTH_TOKEN: 'f'.repeat(32)})})

    expect(result.code).toBe(6)
    expect(result.stderr).toContain('20003: Authenticate')
    expect(result.stderr).toContain('Nothing was written.')
    expect(await smsRow()).toEqual(before)
  })

  it('a later successful re-seed clears the recorded error', async () => {
    expect((await runCli(seed(['--create-tenant', '--name', 'Acme']), {env: env()})).code).toBe(0)
    const rotated = newAuthToken()
    await sandbox.seed({accounts: [{sid: fixture.accountSid, authToken: rotated}]})
    expect((await runCli(seed(), {env: env()})).code).toBe(6)
    expect((await smsRow()).verification_error).toBe('20003: Authenticate')

    const fixed = await runCli(seed(), {env: env({TWILIO_AUTH_TOKEN: rotated})})

    expect(fixed.code).toBe(0)
    expectNoSecrets(fixed, [rotated, fixture.authToken])
    const row = await smsRow()
    expect(Number(row.is_verified)).toBe(1)
    expect(row.verification_error).toBeNull()
    expect(row.verified_at).not.toBeNull()
  })
})
