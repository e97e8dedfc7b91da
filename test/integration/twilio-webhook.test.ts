import {execFileSync} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
import twilio from 'twilio'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import type {ChannelSettingsRow} from '../../src/channel-settings/settings-repository.js'
import type {Keyring} from '../../src/crypto/encryption-key.js'
import type {Database} from '../../src/db/database.js'
import {buildLambdaBundles} from '../../src/lambda/bundle.js'
import {TWILIO_WEBHOOK} from '../../src/lambda/functions.js'
import {storeProviderMessageId} from '../../src/messages/index.js'
import type {ApiGatewayProxyEventV2, ApiGatewayProxyResultV2} from '../../src/pipeline/aws-events.js'
import {createTwilioWebhookProcessor} from '../../src/pipeline/twilio-webhook/index.js'
import {providerFromSettings} from '../../src/providers/provider-factory.js'
import {startTwilioSandbox, type TwilioSandbox} from '../../src/twilio-sandbox/index.js'
import {newAuthToken, newSid} from '../../src/twilio-sandbox/ids.js'
import {computeTwilioSignature} from '../../src/webhooks/twilio-signature.js'
import {DIALECTS} from '../support/databases.js'
import {PROJECT_ROOT} from '../support/run-cli.js'
import {twilioSeed} from '../support/seed-fixtures.js'
import {startWebhookServer, type WebhookServer} from '../support/webhook-server.js'
import {
  eventsOf,
  insertMessages,
  insertTenant,
  keyringOf,
  messageRow,
  migratedStore,
  seedTwilioChannel,
  statusWriteCounts,
  type MigratedStore,
} from '../support/webhook-messages.js'

const PATH = '/webhooks/twilio'

describe.each(DIALECTS)('Twilio status webhook over HTTP on %s', (dialect) => {
  let store: MigratedStore
  let database: Database
  let keyring: Keyring
  let sandbox: TwilioSandbox
  let server: WebhookServer
  let fixture: ReturnType<typeof twilioSeed>
  let settings: Record<'sms' | 'whatsapp', ChannelSettingsRow>
  let applied: number[]

  beforeEach(async () => {
    store = await migratedStore(dialect)
    database = store.database
    keyring = keyringOf(store.encryptionKey)
    fixture = twilioSeed()
    sandbox = await startTwilioSandbox({seed: fixture.seed})
    applied = []
    let publicBaseUrl = ''
    server = await startWebhookServer((event) =>
      createTwilioWebhookProcessor({database, keyring, publicBaseUrl, onApplied: (ids) => applied.push(...ids)})(event),
    )
    publicBaseUrl = server.url
    await insertTenant(database, 'ten_a')
    await insertTenant(database, 'ten_b')
    const common = {tenantId: 'ten_a', accountSid: fixture.accountSid, authToken: fixture.authToken, serviceSid: fixture.serviceSid, webhookUrl: `${server.url}${PATH}`}
    settings = {
      sms: await seedTwilioChannel(database, keyring, {...common, channel: 'sms'}),
      whatsapp: await seedTwilioChannel(database, keyring, {...common, channel: 'whatsapp'}),
    }
    // Another tenant on another account: its token must not vouch for ten_a's messages.
    await seedTwilioChannel(database, keyring, {tenantId: 'ten_b', channel: 'sms', accountSid: fixture.suspendedSid, authToken: fixture.suspendedToken, serviceSid: fixture.suspendedServiceSid, webhookUrl: `${server.url}${PATH}`})
  })
  afterEach(async () => {
    await sandbox.stop()
    await server.close()
    await store.dispose()
  })

  /** Sends message `id` through the provider factory to the sandbox; the SID is returned, not stored. */
  const send = async (id: string, channel: 'sms' | 'whatsapp' = 'sms') => {
    await insertMessages(database, [{id, tenantId: 'ten_a', channel, to: '+15551230001'}])
    const provider = await providerFromSettings(settings[channel], {keyring, get: (name) => (name === 'TWILIO_API_BASE_URL' ? sandbox.url : undefined)})
    return provider.send({to: '+15551230001', body: `hello ${id}`})
  }

  it('callbacks after the SID is stored move the message queued → sent → delivered, each applied once', async () => {
    await sandbox.configure({callbacks: {lateByMs: 300}})
    const sent = await send('m1')
    await storeProviderMessageId(database, 'm1', sent.providerMessageId, sent.status)

    expect(await sandbox.settled(20_000)).toBe(true)
    const log = await sandbox.callbackLog()
    const message = await messageRow(database, 'm1')
    const events = await eventsOf(database, 'm1')

    expect(log.map((entry) => [entry.status, entry.httpStatus])).toEqual([['queued', 200], ['sent', 200], ['delivered', 200]])
    expect(message.status).toBe('delivered')
    expect(events.filter((e) => e.source === 'twilio-webhook').map((e) => [e.status, e.applied])).toEqual([['queued', 0], ['sent', 1], ['delivered', 1]])
    expect(applied).toEqual(events.filter((e) => e.source === 'twilio-webhook' && e.applied === 1).map((e) => e.id))
  })

  it('delivered, sent, queued in that order end delivered; the late ones are recorded, not applied', async () => {
    await sandbox.configure({callbacks: {outOfOrder: true, lateByMs: 300}})
    const sent = await send('m1')
    await storeProviderMessageId(database, 'm1', sent.providerMessageId, sent.status)

    expect(await sandbox.settled(20_000)).toBe(true)
    const log = await sandbox.callbackLog()
    const message = await messageRow(database, 'm1')
    const events = await eventsOf(database, 'm1')

    expect(log.map((entry) => [entry.status, entry.httpStatus])).toEqual([['delivered', 200], ['sent', 200], ['queued', 200]])
    expect(message.status).toBe('delivered')
    expect(events.filter((e) => e.source === 'twilio-webhook').map((e) => [e.status, e.applied])).toEqual([['delivered', 1], ['sent', 0], ['queued', 0]])
  })

  it('callbacks that arrive before the SID is stored are kept and applied when it is stored', async () => {
    const sent = await send('m1', 'whatsapp')
    expect(await sandbox.settled(20_000)).toBe(true)
    const beforeStore = await messageRow(database, 'm1')
    const kept = await database.db.selectFrom('pending_status_callbacks').select(['status', 'tenant_id', 'applied_at']).orderBy('id').execute()

    const stored = await storeProviderMessageId(database, 'm1', sent.providerMessageId, sent.status)
    const message = await messageRow(database, 'm1')
    const pendingLeft = await database.db.selectFrom('pending_status_callbacks').select('id').where('applied_at', 'is', null).execute()

    expect((await sandbox.callbackLog()).every((entry) => entry.httpStatus === 200)).toBe(true)
    expect(beforeStore.status).toBe('queued')
    expect(kept.map((row) => [row.status, row.tenant_id, row.applied_at])).toEqual([
      ['queued', 'ten_a', null],
      ['sent', 'ten_a', null],
      ['delivered', 'ten_a', null],
      ['read', 'ten_a', null],
    ])
    expect(stored.pendingApplied.map((r) => r.outcome)).toEqual(['duplicate', 'applied', 'applied', 'applied'])
    expect(message.status).toBe('read')
    expect(pendingLeft).toEqual([])
  })

  it('an undelivered callback stores Twilio\'s error code as the reason', async () => {
    await sandbox.configure({failDelivery: {'+15551230001': 30007}, callbacks: {lateByMs: 300}})
    const sent = await send('m1')
    await storeProviderMessageId(database, 'm1', sent.providerMessageId, sent.status)

    expect(await sandbox.settled(20_000)).toBe(true)
    const message = await messageRow(database, 'm1')

    expect(message).toMatchObject({status: 'undelivered', error_code: '30007'})
    expect(message.status_reason).toMatch(/^30007/)
  })

  describe('forged and malformed callbacks', () => {
    let sid: string
    let genuine: Record<string, string>
    const post = (body: string, headers: Record<string, string>, path = PATH) =>
      fetch(`${server.url}${path}`, {method: 'POST', headers: {'content-type': 'application/x-www-form-urlencoded', ...headers}, body})
    const form = (params: Record<string, string>) => new URLSearchParams(params).toString()
    const signed = (params: Record<string, string>, token = fixture.authToken, url = `${server.url}${PATH}`) => ({
      'x-twilio-signature': computeTwilioSignature(token, url, params),
    })

    beforeEach(async () => {
      await sandbox.configure({callbacks: {lateByMs: 60_000}})
      const sent = await send('m1')
      sid = sent.providerMessageId
      await storeProviderMessageId(database, 'm1', sid, sent.status)
      genuine = {AccountSid: fixture.accountSid, ApiVersion: '2010-04-01', MessageSid: sid, MessageStatus: 'delivered', SmsSid: sid, SmsStatus: 'delivered', To: '+15551230001'}
    })

    it('every forgery is refused with 403/400 and nothing is written; the server keeps serving', async () => {
      const before = await statusWriteCounts(database)
      const unknownSid = newSid('SM')
      const forgeries: Array<[string, () => Promise<Response>, number]> = [
        ['wrong token', () => post(form(genuine), signed(genuine, newAuthToken())), 403],
        ['the other tenant\'s token', () => post(form(genuine), signed(genuine, fixture.suspendedToken)), 403],
        ['tampered parameter', () => post(form({...genuine, MessageStatus: 'read', SmsStatus: 'read'}), signed(genuine)), 403],
        ['extra parameter', () => post(form({...genuine, ErrorCode: '30007'}), signed(genuine)), 403],
        ['removed parameter', () => post(form({...genuine, To: undefined} as unknown as Record<string, string>).replace(/&To=undefined/, ''), signed(genuine)), 403],
        ['https instead of http', () => post(form(genuine), signed(genuine, fixture.authToken, `${server.url.replace('http:', 'https:')}${PATH}`)), 403],
        ['replayed to another URL', () => post(form(genuine), signed(genuine, fixture.authToken, `${server.url}/webhooks/other`)), 403],
        ['signed for a query string it was not posted with', () => post(form(genuine), signed(genuine, fixture.authToken, `${server.url}${PATH}?tenant=ten_a`)), 403],
        ['signed for the Host header it sent', () => post(form(genuine), {...signed(genuine, fixture.authToken, `http://evil.example${PATH}`), host: 'evil.example'}), 403],
        ['unknown SID, wrong token', () => post(form({...genuine, MessageSid: unknownSid, SmsSid: unknownSid}), signed({...genuine, MessageSid: unknownSid, SmsSid: unknownSid}, newAuthToken())), 403],
        ['unknown account', () => {
          const params = {...genuine, AccountSid: newSid('AC'), MessageSid: unknownSid, SmsSid: unknownSid}
          return post(form(params), signed(params))
        }, 403],
        ['no signature', () => post(form(genuine), {}), 400],
        ['duplicate keys', () => post(`${form(genuine)}&MessageStatus=read`, signed(genuine)), 400],
        ['malformed body', () => post('MessageSid=%zz&&=x', signed(genuine)), 400],
        ['not UTF-8', () => fetch(`${server.url}${PATH}`, {method: 'POST', headers: {'content-type': 'application/x-www-form-urlencoded', ...signed(genuine)}, body: Buffer.from([0x41, 0x3d, 0xff, 0xfe])}), 400],
        ['no MessageSid', () => post(form({AccountSid: fixture.accountSid, MessageStatus: 'delivered'}), signed({AccountSid: fixture.accountSid, MessageStatus: 'delivered'})), 400],
        ['a JSON body', () => fetch(`${server.url}${PATH}`, {method: 'POST', headers: {'content-type': 'application/json', ...signed(genuine)}, body: JSON.stringify(genuine)}), 415],
        ['1 MB body', () => post(`${form(genuine)}&Body=${'a'.repeat(1024 * 1024)}`, signed(genuine)), 413],
        ['GET', () => fetch(`${server.url}${PATH}`, {headers: signed(genuine)}), 405],
      ]

      const answers: Array<[string, number]> = []
      for (const [name, attempt] of forgeries) answers.push([name, (await attempt()).status])
      const after = await statusWriteCounts(database)
      const genuineAnswer = await post(form(genuine), signed(genuine))

      expect(answers).toEqual(forgeries.map(([name, , status]) => [name, status]))
      expect(after).toEqual(before)
      expect(genuineAnswer.status).toBe(200)
      expect(await genuineAnswer.text()).toContain('<Response/>')
      expect((await messageRow(database, 'm1')).status).toBe('delivered')
    })

    it('a signature made by the twilio SDK verifies, and the SDK accepts what the sandbox signs', async () => {
      const url = `${server.url}${PATH}`
      const sdkSignature = twilio.getExpectedTwilioSignature(fixture.authToken, url, genuine)

      const answer = await post(form(genuine), {'x-twilio-signature': sdkSignature})

      expect(answer.status).toBe(200)
      expect(twilio.validateRequest(fixture.authToken, computeTwilioSignature(fixture.authToken, url, genuine), url, genuine)).toBe(true)
      expect((await messageRow(database, 'm1')).status).toBe('delivered')
    })

    it('a rotated auth token counts from the next callback, and credentials removed from the row refuse it', async () => {
      const sentParams = {...genuine, MessageStatus: 'sent', SmsStatus: 'sent'}
      const newToken = newAuthToken()
      const beforeRotation = await post(form(sentParams), signed(sentParams))
      await seedTwilioChannel(database, keyring, {tenantId: 'ten_a', channel: 'sms', accountSid: fixture.accountSid, authToken: newToken, serviceSid: fixture.serviceSid, webhookUrl: `${server.url}${PATH}`})

      const oldToken = await post(form(genuine), signed(genuine))
      const rotated = await post(form(genuine), signed(genuine, newToken))
      await database.db.updateTable('tenant_channel_settings').set({credentials_encrypted: null}).where('tenant_id', '=', 'ten_a').where('channel', '=', 'sms').execute()
      const readParams = {...genuine, MessageStatus: 'read', SmsStatus: 'read'}
      const removed = await post(form(readParams), signed(readParams, newToken))

      expect([beforeRotation.status, oldToken.status, rotated.status, removed.status]).toEqual([200, 403, 200, 403])
      expect((await messageRow(database, 'm1')).status).toBe('delivered')
      expect((await eventsOf(database, 'm1')).filter((e) => e.source === 'twilio-webhook').map((e) => [e.status, e.applied])).toEqual([['sent', 1], ['delivered', 1]])
    })

    it('concurrent callbacks about many messages are each recorded once, whatever order they commit in', async () => {
      const ids = Array.from({length: 20}, (_, i) => `c${i}`)
      await insertMessages(database, ids.map((id) => ({id, tenantId: 'ten_a', status: 'sent', providerMessageId: newSid('SM')})))
      const rows = await database.db.selectFrom('messages').select(['id', 'provider_message_id']).where('id', 'in', ids).execute()
      const callbacks = rows.flatMap((row) =>
        ['delivered', 'read', 'delivered'].map((status) => ({...genuine, MessageSid: row.provider_message_id!, SmsSid: row.provider_message_id!, MessageStatus: status, SmsStatus: status})),
      )

      const answers = await Promise.all(callbacks.map((params) => post(form(params), signed(params)).then((answer) => answer.status)))
      const events = await database.db.selectFrom('message_status_events').select(['message_id', 'status', 'applied']).where('message_id', 'in', ids).execute()
      const statuses = await database.db.selectFrom('messages').select('status').where('id', 'in', ids).execute()

      expect(answers.every((status) => status === 200)).toBe(true)
      expect(events).toHaveLength(callbacks.length)
      expect(statuses.every((row) => row.status === 'read')).toBe(true)
      // Each message went sent → read with at most one applied event per step, whatever the arrival order.
      for (const id of ids) {
        const applied = events.filter((e) => e.message_id === id && Number(e.applied) === 1).map((e) => e.status)
        expect(applied.filter((status) => status === 'read')).toEqual(['read'])
        expect(applied.filter((status) => status === 'delivered').length).toBeLessThanOrEqual(1)
      }
    })

    it('the same genuine callback twice is applied once', async () => {
      const first = await post(form(genuine), signed(genuine))
      const second = await post(form(genuine), signed(genuine))
      const events = await eventsOf(database, 'm1')

      expect([first.status, second.status]).toEqual([200, 200])
      expect(events.filter((e) => e.status === 'delivered').map((e) => e.applied)).toEqual([1, 0])
    })
  })

  it.runIf(dialect === 'postgres')('the bundled Lambda (index.mjs from the zip build, run from an empty folder) verifies and applies a callback', async () => {
    await sandbox.configure({callbacks: {lateByMs: 60_000}})
    const sent = await send('m1')
    await storeProviderMessageId(database, 'm1', sent.providerMessageId, sent.status)
    const outDir = mkdtempSync(join(tmpdir(), 'engage-webhook-bundle-'))
    const saved = {...process.env}
    try {
      await buildLambdaBundles({entries: [{name: TWILIO_WEBHOOK.name, entry: TWILIO_WEBHOOK.entry}], outDir, rootDir: PROJECT_ROOT})
      execFileSync('unzip', ['-q', join(outDir, `${TWILIO_WEBHOOK.name}.zip`), '-d', outDir])
      Object.assign(process.env, {DATABASE_URL: store.testDatabase.url, ENCRYPTION_KEY: store.encryptionKey, WEBHOOK_BASE_URL: 'https://hooks.example.com', LOG_LEVEL: 'error'})
      const bundled = (await import(pathToFileURL(join(outDir, 'index.mjs')).href)) as {handler: (event: ApiGatewayProxyEventV2) => Promise<ApiGatewayProxyResultV2>}
      const params = {AccountSid: fixture.accountSid, MessageSid: sent.providerMessageId, MessageStatus: 'delivered', SmsSid: sent.providerMessageId, SmsStatus: 'delivered'}
      const body = Buffer.from(new URLSearchParams(params).toString()).toString('base64')
      const event = (signature: string): ApiGatewayProxyEventV2 => ({
        version: '2.0',
        routeKey: 'POST /webhooks/twilio',
        rawPath: PATH,
        rawQueryString: '',
        headers: {'content-type': 'application/x-www-form-urlencoded', host: 'abc123.execute-api.us-east-1.amazonaws.com', 'x-twilio-signature': signature},
        requestContext: {requestId: 'r1', timeEpoch: Date.now(), http: {method: 'POST', path: PATH, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'TwilioProxy/1.1'}},
        body,
        isBase64Encoded: true,
      })

      const forged = await bundled.handler(event(computeTwilioSignature(fixture.authToken, `https://abc123.execute-api.us-east-1.amazonaws.com${PATH}`, params)))
      const genuine = await bundled.handler(event(computeTwilioSignature(fixture.authToken, `https://hooks.example.com${PATH}`, params)))

      expect(forged.statusCode).toBe(403)
      expect(genuine.statusCode).toBe(200)
      expect((await messageRow(database, 'm1')).status).toBe('delivered')
    } finally {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key]
      Object.assign(process.env, saved)
      rmSync(outDir, {recursive: true, force: true})
    }
  })
})
