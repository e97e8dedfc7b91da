import {join} from 'node:path'
import {afterAll, afterEach, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import {parseEncryptionKey} from '../../src/crypto/encryption-key.js'
import {encryptField} from '../../src/crypto/envelope.js'
import type {Database} from '../../src/db/database.js'
import {startTwilioSandbox, type TwilioSandbox} from '../../src/twilio-sandbox/server.js'
import {DIALECTS, type TestDatabase} from '../support/databases.js'
import {runCli, type CliResult} from '../support/run-cli.js'
import {expectNoSecrets, expectSecretsNotInFile, migratedDatabase, newKey, parseJson, twilioSeed} from '../support/seed-fixtures.js'

describe.each(DIALECTS)('engage settings list/show/enable/disable (%s)', (dialect) => {
  const fixture = twilioSeed()
  const key = newKey()
  const sesSecret = 'sEcReT/AwS+key0123456789abcdefGHIJKLMNOP'
  const webhookSecret = 'whsec_9f8e7d6c5b4a39281706f5e4d3c2b1a0'
  let sandbox: TwilioSandbox
  let testDb: TestDatabase
  let database: Database
  let secrets: string[]

  beforeAll(async () => {
    sandbox = await startTwilioSandbox({seed: fixture.seed})
    secrets = [fixture.authToken, sesSecret, webhookSecret, key.hex]
  })
  afterAll(async () => {
    await sandbox.stop()
  })
  beforeEach(async () => {
    testDb = await migratedDatabase(dialect)
    database = await testDb.open()
    const env = {ENCRYPTION_KEY: key.hex, TWILIO_API_BASE_URL: sandbox.url, TWILIO_AUTH_TOKEN: fixture.authToken, WEBHOOK_BASE_URL: 'https://hooks.example.com'}
    const twilio = await runCli(
      ['seed', 'twilio', '--database-url', testDb.url, '--tenant', 'acme', '--create-tenant', '--name', 'Acme', '--account-sid', fixture.accountSid,
        '--messaging-service-sid', fixture.serviceSid, '--from', '+15005550006', '--whatsapp-from', '+15005550008'],
      {env},
    )
    expect(twilio.code).toBe(0)
    const ses = await runCli(['seed', 'ses', '--database-url', testDb.url, '--tenant', 'acme', '--from', 'news@acme.example', '--region', 'eu-west-1'], {
      env: {ENCRYPTION_KEY: key.hex, AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE', AWS_SECRET_ACCESS_KEY: sesSecret},
    })
    expect(ses.code).toBe(0)
    // A webhook secret as migrated rows carry one (seed does not invent them).
    const sms = await database.db.selectFrom('tenant_channel_settings').selectAll().where('channel', '=', 'sms').executeTakeFirstOrThrow()
    await database.db
      .updateTable('tenant_channel_settings')
      .set({webhook_secret_encrypted: encryptField(parseEncryptionKey(key.hex), webhookSecret, {tenantId: sms.tenant_id, channel: 'sms', field: 'webhook_secret'})})
      .where('id', '=', sms.id)
      .execute()
  })
  afterEach(async () => {
    await testDb.dispose()
  })

  const settings = (args: string[]) => runCli(['settings', ...args, '--database-url', testDb.url], {env: {ENCRYPTION_KEY: key.hex}})

  it('list shows every channel redacted, with key ids, and no secret', async () => {
    const result = await settings(['list'])

    expect(result.code).toBe(0)
    const lines = result.stdout.trim().split('\n')
    expect(lines).toHaveLength(3)
    expect(lines[0]).toMatch(/^acme\s+email\s+ses\s+enabled\s+unverified\s+sender news@acme\.example\s+region eu-west-1\s+access key AKIA…MPLE/)
    expect(lines[1]).toContain(`account ${fixture.accountSid.slice(0, 4)}…${fixture.accountSid.slice(-4)}`)
    expect(lines[1]).toContain(`key ${key.id}`)
    expect(result.stdout).not.toContain(fixture.accountSid)
    expectNoSecrets(result, secrets)
  })

  it('list --json is one document of safe views', async () => {
    const result = await settings(['list', '--json', '--tenant', 'acme'])

    expect(result.code).toBe(0)
    const body = parseJson<{settings: Array<Record<string, unknown>>}>(result)
    expect(body.settings.map((row) => row.channel)).toEqual(['email', 'sms', 'whatsapp'])
    expect(body.settings[1]).toMatchObject({
      provider: 'twilio',
      enabled: true,
      verified: true,
      messagingServiceSid: fixture.serviceSid,
      webhookUrl: 'https://hooks.example.com/webhooks/twilio',
      credentials: {stored: true, keyId: key.id},
      webhookSecret: {stored: true, keyId: key.id},
    })
    expectNoSecrets(result, secrets)
  })

  it.each(['sms', 'whatsapp', 'email'])('show --channel %s prints no secret, plain or --json', async (channel) => {
    const plain = await settings(['show', '--tenant', 'acme', '--channel', channel])
    const json = await settings(['show', '--tenant', 'acme', '--channel', channel, '--json'])

    expect(plain.code).toBe(0)
    expect(plain.stdout).toMatch(/Credentials:\s+stored, key [0-9a-f]{8}/)
    expect(parseJson(json).channel).toBe(channel)
    for (const result of [plain, json]) expectNoSecrets(result, secrets)
  })

  it('the database holds no secret in plaintext', async () => {
    await settings(['list'])
    await database.close()

    if (dialect === 'sqlite') expectSecretsNotInFile(join(testDb.dir, 'engage.db'), secrets)
    else {
      const reopened = await testDb.open()
      const rows = await reopened.db.selectFrom('tenant_channel_settings').selectAll().execute()
      expect(secrets.some((secret) => JSON.stringify(rows).includes(secret))).toBe(false)
    }
  })

  it('disable then enable flips is_enabled; repeating is success and says so', async () => {
    const enabled = async () =>
      Number((await database.db.selectFrom('tenant_channel_settings').select('is_enabled').where('channel', '=', 'whatsapp').executeTakeFirstOrThrow()).is_enabled)
    const run = (verb: string) => settings([verb, '--tenant', 'acme', '--channel', 'whatsapp'])

    const disabled: CliResult = await run('disable')
    expect(disabled.code).toBe(0)
    expect(disabled.stdout.trim()).toBe('acme whatsapp: disabled.')
    expect(await enabled()).toBe(0)
    const again = await run('disable')
    expect(again.code).toBe(0)
    expect(again.stdout.trim()).toBe('acme whatsapp: already disabled, nothing changed.')
    const reenabled = await run('enable')
    expect(reenabled.stdout.trim()).toBe('acme whatsapp: enabled.')
    expect(await enabled()).toBe(1)
    for (const result of [disabled, again, reenabled]) expectNoSecrets(result, secrets)
  })

  it('show for a channel without settings, or an unknown tenant, exits 7', async () => {
    await database.db.deleteFrom('tenant_channel_settings').where('channel', '=', 'email').execute()

    const missing = await settings(['show', '--tenant', 'acme', '--channel', 'email'])
    const unknown = await settings(['enable', '--tenant', 'globex', '--channel', 'sms'])

    expect(missing.code).toBe(7)
    expect(missing.stderr).toContain('Tenant acme has no email settings.')
    expect(missing.stderr).toContain('engage seed ses --tenant acme')
    expect(unknown.code).toBe(7)
    expect(unknown.stderr).toContain('No tenant with slug or id "globex"')
  })
})
