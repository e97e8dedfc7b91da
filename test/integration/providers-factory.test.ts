import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import {afterAll, afterEach, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import sesModule from 'aws-ses-v2-local'
import {Keyring, parseEncryptionKey} from '../../src/crypto/encryption-key.js'
import type {Database} from '../../src/db/database.js'
import {NotFoundError, ProviderError, UsageError} from '../../src/errors/engage-error.js'
import {createMessageProvider, type ProviderFactoryOptions} from '../../src/providers/provider-factory.js'
import {startTwilioSandbox, type TwilioSandbox} from '../../src/twilio-sandbox/server.js'
import {DIALECTS, type TestDatabase} from '../support/databases.js'
import {runCli} from '../support/run-cli.js'
import {migratedDatabase, newKey, twilioSeed} from '../support/seed-fixtures.js'

// A CommonJS module with `exports.default`: Node's ESM loader and vitest disagree on what the default import is.
const sesInterop = sesModule as unknown as typeof sesModule.default | typeof sesModule
const sesEmulator: typeof sesModule.default = typeof sesInterop === 'function' ? sesInterop : sesInterop.default

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

describe.each(DIALECTS)('provider factory (%s)', (dialect) => {
  const fixture = twilioSeed()
  const key = newKey()
  let sandbox: TwilioSandbox
  let ses: Server
  let sesUrl: string
  let callbacks: Server
  let callbackUrl: string
  let testDb: TestDatabase
  let database: Database
  let warnings: string[]
  let options: ProviderFactoryOptions

  beforeAll(async () => {
    sandbox = await startTwilioSandbox({seed: fixture.seed})
    // The Twilio sandbox delivers status callbacks; a loopback receiver keeps them local.
    callbacks = createServer((request, response) => {
      request.resume()
      request.on('end', () => response.writeHead(204).end())
    })
    callbackUrl = `${await listen(callbacks)}/webhooks/twilio`
    ses = await sesEmulator({host: '127.0.0.1', port: 0})
    sesUrl = `http://127.0.0.1:${(ses.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    await sandbox.stop()
    await new Promise((resolve) => callbacks.close(resolve))
    await new Promise((resolve) => ses.close(resolve))
  })
  beforeEach(async () => {
    testDb = await migratedDatabase(dialect)
    database = await testDb.open()
    warnings = []
    const env: Record<string, string> = {TWILIO_API_BASE_URL: sandbox.url, SES_ENDPOINT: sesUrl}
    options = {
      keyring: new Keyring(parseEncryptionKey(key.hex)),
      get: (name) => env[name],
      logger: {error() {}, info() {}, debug() {}, warn: (message) => warnings.push(message)},
    }
  })
  afterEach(async () => {
    await testDb.dispose()
  })

  const seedTwilio = (extra: string[] = []) =>
    runCli(
      ['seed', 'twilio', '--database-url', testDb.url, '--tenant', 'acme', '--create-tenant', '--name', 'Acme', '--account-sid', fixture.accountSid,
        '--messaging-service-sid', fixture.serviceSid, '--from', '+15005550006', '--whatsapp-from', '+15005550008', '--webhook-url', callbackUrl, ...extra],
      {env: {ENCRYPTION_KEY: key.hex, TWILIO_API_BASE_URL: sandbox.url, TWILIO_AUTH_TOKEN: fixture.authToken}},
    )

  it('builds a Twilio SMS provider that sends through the messaging service with the webhook as status callback', async () => {
    expect((await seedTwilio()).code).toBe(0)

    const provider = await createMessageProvider(database, 'acme', 'sms', options)
    const sent = await provider.send({to: '+14155550100', body: 'hello sms'})
    const fetched = await provider.fetch!(sent.providerMessageId)

    expect(provider).toMatchObject({provider: 'twilio', channel: 'sms', verified: true})
    expect(sent.providerMessageId).toMatch(/^SM[0-9a-f]{32}$/)
    expect(sent.status).toBe('accepted')
    expect(fetched.providerMessageId).toBe(sent.providerMessageId)
    const message = (await sandbox.messages()).find((entry) => entry.sid === sent.providerMessageId)
    expect(message).toMatchObject({to: '+14155550100', body: 'hello sms', messaging_service_sid: fixture.serviceSid})
    const counters = await sandbox.counters()
    expect(counters.byStatusCallback.map((entry) => entry.statusCallback)).toContain(callbackUrl)
    expect(warnings).toEqual([])
  })

  it('builds a Twilio WhatsApp provider that adds the whatsapp: prefix', async () => {
    expect((await seedTwilio()).code).toBe(0)

    const provider = await createMessageProvider(database, 'acme', 'whatsapp', options)
    const sent = await provider.send({to: '+14155550101', body: 'hello whatsapp'})

    const message = (await sandbox.messages()).find((entry) => entry.sid === sent.providerMessageId)
    expect(message).toMatchObject({to: 'whatsapp:+14155550101', messaging_service_sid: fixture.serviceSid})
  })

  it('maps a Twilio refusal to a ProviderError with Twilio\'s code', async () => {
    expect((await seedTwilio()).code).toBe(0)
    const provider = await createMessageProvider(database, 'acme', 'sms', options)

    const failure = await provider.send({to: '+1', body: 'x'}).catch((error: unknown) => error)

    expect(failure).toBeInstanceOf(ProviderError)
    expect((failure as ProviderError).message).toContain('21211')
    expect((failure as ProviderError).details).toMatchObject({twilioCode: 21211, retryable: false})
  })

  it('refuses a disabled channel and a channel without settings', async () => {
    expect((await seedTwilio()).code).toBe(0)
    expect((await runCli(['settings', 'disable', '--database-url', testDb.url, '--tenant', 'acme', '--channel', 'sms'])).code).toBe(0)

    const disabled = await createMessageProvider(database, 'acme', 'sms', options).catch((error: unknown) => error)
    const missing = await createMessageProvider(database, 'acme', 'email', options).catch((error: unknown) => error)

    expect(disabled).toBeInstanceOf(UsageError)
    expect((disabled as UsageError).code).toBe('CHANNEL_DISABLED')
    expect((disabled as UsageError).suggestions[0]).toContain('engage settings enable --tenant acme --channel sms')
    expect(missing).toBeInstanceOf(NotFoundError)
    expect((missing as NotFoundError).code).toBe('SETTINGS_NOT_FOUND')
  })

  it('allows unverified settings but flags them', async () => {
    expect((await seedTwilio(['--no-verify'])).code).toBe(0)

    const provider = await createMessageProvider(database, 'acme', 'sms', options)

    expect(provider.verified).toBe(false)
    expect(warnings).toEqual(['The acme sms settings are not verified; sending anyway.'])
  })

  it('refuses credentials it cannot decrypt, naming the row only', async () => {
    expect((await seedTwilio()).code).toBe(0)
    const wrongKey: ProviderFactoryOptions = {...options, keyring: new Keyring(parseEncryptionKey(newKey().hex))}

    const failure = await createMessageProvider(database, 'acme', 'sms', wrongKey).catch((error: unknown) => error)

    expect((failure as Error).name).toBe('EncryptionError')
    expect((failure as Error).message).toMatch(/credentials of tenant_channel_settings row \d+ do not decrypt/)
    expect((failure as Error).message).not.toContain(fixture.authToken)
  })

  it('builds an SES provider that sends through the local SES emulator', async () => {
    const seeded = await runCli(['seed', 'ses', '--database-url', testDb.url, '--tenant', 'acme', '--create-tenant', '--name', 'Acme', '--from', 'news@acme.example', '--region', 'eu-west-1'], {
      env: {ENCRYPTION_KEY: key.hex, AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE', AWS_SECRET_ACCESS_KEY: 'local-emulator-secret-0123456789'},
    })
    expect(seeded.code).toBe(0)

    const provider = await createMessageProvider(database, 'acme', 'email', options)
    const sent = await provider.send({to: 'reader@example.org', subject: `Hello ${dialect}`, body: 'hello email'})

    expect(provider).toMatchObject({provider: 'ses', channel: 'email', verified: false})
    expect(sent.providerMessageId).toBeTruthy()
    const store = (await (await fetch(`${sesUrl}/store`)).json()) as {emails: Array<{messageId: string; from: string; destination: {to: string[]}; subject: string; body: {text: string}}>}
    const email = store.emails.find((entry) => entry.messageId === sent.providerMessageId)
    expect(email).toMatchObject({from: 'news@acme.example', subject: `Hello ${dialect}`, destination: {to: ['reader@example.org']}})
    expect(email!.body.text.trim()).toBe('hello email')
  })
})
