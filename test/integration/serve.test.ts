import {spawn, type ChildProcessWithoutNullStreams} from 'node:child_process'
import {connect} from 'node:net'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {MessageStatusData} from '../../src/backend-status/status-payload.js'
import type {Database} from '../../src/db/database.js'
import {generateWebhookSecret, signWebhook} from '../../src/webhooks/standard-webhooks.js'
import {openSse, type SseClient} from '../../bench/support/sse-client.js'
import {DIALECTS, type TestDatabase} from '../support/databases.js'
import {BIN, PROJECT_ROOT} from '../support/run-cli.js'
import {closedPort, migratedDatabase, newKey, twilioSeed} from '../support/seed-fixtures.js'
import {eventsOf, insertMessages, insertTenant, keyringOf, seedTwilioChannel} from '../support/webhook-messages.js'
import {storeProviderMessageId} from '../../src/messages/index.js'
import {providerFromSettings} from '../../src/providers/provider-factory.js'
import {startTwilioSandbox} from '../../src/twilio-sandbox/index.js'
import {computeTwilioSignature} from '../../src/webhooks/twilio-signature.js'

const DEV = process.env.ENGAGE_TEST_BIN === 'dev'
/**
 * In dev mode oclif reads a stale oclif.manifest.json left by an earlier build, which may not list
 * `serve` yet, so the command class runs through oclif's own Command.run; built runs go through
 * bin/run.js as a user's do.
 */
const DEV_LAUNCHER = `const argv = process.argv.slice(1)
const {handle, flush} = await import('@oclif/core')
const {default: Serve} = await import('./commands/serve.ts')
try { await Serve.run(argv, process.cwd()); await flush() } catch (error) { await handle(error) }`

interface RunningServe {
  child: ChildProcessWithoutNullStreams
  /** The one-line --json document. */
  info: Promise<{url: string; port: number; events: string; messageStatus: string; health: string; twilioWebhook: string; forwarding: boolean}>
  exit: Promise<{code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string}>
}

function startServe(args: string[], env: Record<string, string>): RunningServe {
  const argv = DEV ? ['--import', 'tsx', '--input-type=module', '-e', DEV_LAUNCHER, '--', ...args] : [BIN, 'serve', ...args]
  const child = spawn(process.execPath, argv, {
    cwd: PROJECT_ROOT,
    env: {PATH: process.env.PATH, HOME: process.env.HOME, ...env},
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  let onInfo: (value: never) => void = () => {}
  const info = new Promise<never>((resolve) => (onInfo = resolve))
  child.stdout.on('data', (chunk) => {
    stdout += chunk
    if (stdout.includes('\n')) onInfo(JSON.parse(stdout.split('\n')[0]!) as never)
  })
  child.stderr.on('data', (chunk) => (stderr += chunk))
  const exit = new Promise<{code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string}>((resolve) =>
    child.on('close', (code, signal) => resolve({code, signal, stdout, stderr})),
  )
  const started = Promise.race([info, exit.then((result) => Promise.reject(new Error(`serve exited ${result.code}: ${result.stderr}`)))])
  // A run that is meant to fail never reads `info`; its rejection is not an error of the test.
  started.catch(() => {})
  return {child, info: started, exit}
}

let eventSequence = 1_000
function statusData(tenantId: string, campaignId: string | null, status = 'delivered'): MessageStatusData {
  const eventId = eventSequence++
  return {
    eventId,
    messageId: `msg-${eventId}`,
    tenantId,
    campaignId,
    channel: 'sms',
    status,
    providerStatus: status,
    statusReason: null,
    providerMessageId: `SM${eventId}`,
    occurredAt: new Date().toISOString(),
  }
}

async function postStatus(
  url: string,
  secret: string,
  data: MessageStatusData,
  options: {timestamp?: Date; id?: string; body?: string; headers?: Record<string, string>} = {},
): Promise<{status: number; json: any}> {
  const body = options.body ?? JSON.stringify({type: 'message.status', data})
  const headers = signWebhook({id: options.id ?? `msgstatus_${data.eventId}`, timestamp: options.timestamp ?? new Date(), body}, secret)
  const response = await fetch(url, {method: 'POST', headers: {'content-type': 'application/json', ...headers, ...options.headers}, body})
  const text = await response.text()
  return {status: response.status, json: text ? JSON.parse(text) : null}
}

async function health(url: string): Promise<any> {
  const response = await fetch(url)
  expect(response.status).toBe(200)
  return response.json()
}

describe.each(DIALECTS)('engage serve (%s)', (dialect) => {
  let testDatabase: TestDatabase
  let secret: string
  let serve: RunningServe
  let urls: Awaited<RunningServe['info']>

  beforeAll(async () => {
    testDatabase = await migratedDatabase(dialect)
    secret = generateWebhookSecret()
    serve = startServe(['--port', '0', '--json', '--database-url', testDatabase.url], {BACKEND_STATUS_WEBHOOK_SECRET: secret})
    urls = await serve.info
  })

  afterAll(async () => {
    if (serve.child.exitCode === null && serve.child.signalCode === null) {
      serve.child.kill('SIGKILL')
      await serve.exit
    }
    await testDatabase.dispose()
  })

  it('accepts a signed status once and streams it; refuses bad signatures, stale timestamps and replays without streaming them', async () => {
    const sse = await openSse(`${urls.events}?tenant=tenant-auth`)
    const before = (await health(urls.health)).events.received
    const good = statusData('tenant-auth', 'campaign-1')
    const otherSecret = generateWebhookSecret()

    const wrongSecret = await postStatus(urls.messageStatus, otherSecret, statusData('tenant-auth', null))
    const stale = await postStatus(urls.messageStatus, secret, statusData('tenant-auth', null), {timestamp: new Date(Date.now() - 6 * 60_000)})
    const future = await postStatus(urls.messageStatus, secret, statusData('tenant-auth', null), {timestamp: new Date(Date.now() + 6 * 60_000)})
    const tamperedData = statusData('tenant-auth', null)
    const signedBody = JSON.stringify({type: 'message.status', data: tamperedData})
    const tamperedHeaders = signWebhook({id: `msgstatus_${tamperedData.eventId}`, body: signedBody}, secret)
    const tampered = await fetch(urls.messageStatus, {
      method: 'POST',
      headers: {...tamperedHeaders, 'content-type': 'application/json'},
      body: signedBody.replace('tenant-auth', 'tenant-evil'),
    })
    const unsigned = await fetch(urls.messageStatus, {method: 'POST', body: JSON.stringify({type: 'message.status', data: good})})
    const accepted = await postStatus(urls.messageStatus, secret, good)
    const replayed = await postStatus(urls.messageStatus, secret, good)

    expect(wrongSecret).toMatchObject({status: 401, json: {error: {code: 'WEBHOOK_NO_MATCHING_SIGNATURE'}}})
    expect(stale).toMatchObject({status: 401, json: {error: {code: 'WEBHOOK_TIMESTAMP_TOO_OLD'}}})
    expect(future).toMatchObject({status: 401, json: {error: {code: 'WEBHOOK_TIMESTAMP_TOO_NEW'}}})
    expect(tampered.status).toBe(401)
    expect(unsigned.status).toBe(400)
    expect(accepted).toMatchObject({status: 200, json: {accepted: true}})
    expect(replayed).toMatchObject({status: 200, json: {accepted: false, duplicate: true}})
    await sse.waitFor(1)
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(sse.frames).toHaveLength(1)
    expect(sse.frames[0]).toMatchObject({event: 'message.status', id: accepted.json.sequence, data: good})
    expect((await health(urls.health)).events.received).toBe(before + 1)
    sse.close()
  })

  it('filters the stream by tenant and by campaign', async () => {
    const tenantOnly = await openSse(`${urls.events}?tenant=tenant-f1`)
    const tenantAndCampaign = await openSse(`${urls.events}?tenant=tenant-f1&campaign=camp-x`)
    const everything = await openSse(urls.events)
    const sent = [
      statusData('tenant-f1', 'camp-x'),
      statusData('tenant-f2', 'camp-x'),
      statusData('tenant-f1', 'camp-y'),
      statusData('tenant-f1', null),
      statusData('tenant-f1', 'camp-x', 'read'),
    ]

    for (const data of sent) expect((await postStatus(urls.messageStatus, secret, data)).status).toBe(200)
    await everything.waitFor(sent.length)
    await tenantOnly.waitFor(4)
    await tenantAndCampaign.waitFor(2)
    await new Promise((resolve) => setTimeout(resolve, 200))

    const eventIds = (client: SseClient) => client.frames.map((frame) => frame.data.eventId)
    expect(eventIds(everything)).toEqual(sent.map((data) => data.eventId))
    expect(eventIds(tenantOnly)).toEqual([sent[0], sent[2], sent[3], sent[4]].map((data) => data!.eventId))
    expect(eventIds(tenantAndCampaign)).toEqual([sent[0], sent[4]].map((data) => data!.eventId))
    // Sequence ids grow by one per accepted status.
    const ids = everything.frames.map((frame) => frame.id)
    expect(ids).toEqual(ids.map((_, index) => ids[0]! + index))
    for (const client of [tenantOnly, tenantAndCampaign, everything]) client.close()
  })

  it('resumes from Last-Event-ID (header or query) with exactly the missed events', async () => {
    const first = await openSse(`${urls.events}?tenant=tenant-resume`)
    const early = [statusData('tenant-resume', null), statusData('tenant-resume', null)]
    for (const data of early) await postStatus(urls.messageStatus, secret, data)
    await first.waitFor(2)
    const lastSeen = first.frames.at(-1)!.id
    first.close()

    const missed = [statusData('tenant-resume', null), statusData('tenant-other', null), statusData('tenant-resume', 'c'), statusData('tenant-resume', null)]
    for (const data of missed) await postStatus(urls.messageStatus, secret, data)
    const resumed = await openSse(`${urls.events}?tenant=tenant-resume`, {'Last-Event-ID': String(lastSeen)})
    const resumedByQuery = await openSse(`${urls.events}?tenant=tenant-resume&lastEventId=${lastSeen}`)
    const live = statusData('tenant-resume', null)
    await postStatus(urls.messageStatus, secret, live)
    await resumed.waitFor(4)
    await resumedByQuery.waitFor(4)
    await new Promise((resolve) => setTimeout(resolve, 200))

    const expected = [missed[0], missed[2], missed[3], live].map((data) => data!.eventId)
    expect(resumed.frames.map((frame) => frame.data.eventId)).toEqual(expected)
    expect(resumedByQuery.frames.map((frame) => frame.data.eventId)).toEqual(expected)
    resumed.close()
    resumedByQuery.close()

    const badId = await fetch(urls.events, {headers: {'Last-Event-ID': 'yesterday'}})
    expect(badId.status).toBe(400)
    expect(await badId.json()).toMatchObject({error: {code: 'LAST_EVENT_ID_INVALID'}})
  })

  it('answers malformed, oversized and misrouted requests with 4xx and keeps serving', async () => {
    const megabyte = 'a'.repeat(1024 * 1024)
    const notJson = await postStatus(urls.messageStatus, secret, statusData('t', null), {body: '{"type": "message.status", "data": '})
    const wrongShape = await postStatus(urls.messageStatus, secret, statusData('t', null), {id: 'msgstatus_shape', body: '{"type":"message.status","data":{"eventId":"one"}}'})
    const hugeStatus = await fetch(urls.messageStatus, {method: 'POST', headers: {'content-type': 'application/json'}, body: megabyte})
    const hugeSigned = await postStatus(urls.messageStatus, secret, statusData('t', null), {body: JSON.stringify({pad: megabyte})}).catch(() => ({status: 0, json: null}))
    const hugeTwilio = await fetch(urls.twilioWebhook, {method: 'POST', headers: {'content-type': 'application/x-www-form-urlencoded'}, body: `Body=${megabyte}`})
    const notFound = await fetch(`${urls.url}/nope`)
    const wrongMethod = await fetch(urls.messageStatus)
    const badEventsQuery = await fetch(`${urls.events}?tenant=a&tenant=b`)
    const rawGarbage = await new Promise<string>((resolve) => {
      const socket = connect(urls.port, '127.0.0.1', () => socket.write('THIS IS NOT HTTP\r\n\r\n'))
      let answer = ''
      socket.on('data', (chunk) => (answer += chunk))
      socket.on('close', () => resolve(answer))
      socket.on('error', () => resolve(answer))
    })

    expect(notJson).toMatchObject({status: 400, json: {error: {code: 'BODY_NOT_JSON'}}})
    expect(wrongShape).toMatchObject({status: 400, json: {error: {code: 'PAYLOAD_INVALID'}}})
    expect(wrongShape.json.error.message).toContain('eventId')
    expect(hugeStatus.status).toBe(413)
    expect(hugeSigned.status).toBe(413)
    expect(hugeTwilio.status).toBe(413)
    expect(notFound.status).toBe(404)
    expect(wrongMethod.status).toBe(405)
    expect(wrongMethod.headers.get('allow')).toBe('POST')
    expect(badEventsQuery.status).toBe(400)
    expect(rawGarbage).toMatch(/^HTTP\/1\.1 400/)

    // Still serving, and still accepting good statuses.
    expect((await health(urls.health)).ok).toBe(true)
    expect((await postStatus(urls.messageStatus, secret, statusData('t', null))).status).toBe(200)
  })

  it('stops cleanly on SIGTERM', async () => {
    serve.child.kill('SIGTERM')
    const result = await serve.exit
    expect(result.code).toBe(0)
    expect(result.stdout.trim().split('\n')).toHaveLength(1)
    expect(result.stdout + result.stderr).not.toContain(secret)
  })

  it('runs the whole local loop: status rows in the database reach SSE through the forwarder and its signed POST to itself', async () => {
    const database = await testDatabase.open()
    const port = await closedPort()
    const loopSecret = generateWebhookSecret()
    const local = startServe(['--port', String(port), '--json', '--database-url', testDatabase.url, '--forward-interval', '100'], {
      BACKEND_STATUS_WEBHOOK_SECRET: loopSecret,
      BACKEND_STATUS_WEBHOOK_URL: `http://127.0.0.1:${port}/internal/message-status`,
    })
    try {
      const info = await local.info
      expect(info.forwarding).toBe(true)
      const sse = await openSse(`${info.events}?tenant=tenant-loop&campaign=camp-loop`)
      const eventIds = await seedStatusEvents(database, 'tenant-loop', 'camp-loop', ['queued', 'sent', 'delivered'])

      await sse.waitFor(3)
      expect(sse.frames.map((frame) => [frame.data.eventId, frame.data.status])).toEqual([
        [eventIds[0], 'queued'],
        [eventIds[1], 'sent'],
        [eventIds[2], 'delivered'],
      ])
      // The forwarder records the delivery once its POST returned, which may be just after SSE had the frame.
      const undelivered = () =>
        database.db.selectFrom('message_status_events').select('id').where('id', 'in', eventIds).where('backend_delivered_at', 'is', null).execute()
      const deadline = Date.now() + 10_000
      while ((await undelivered()).length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
      expect(await undelivered()).toEqual([])
      expect((await health(info.health)).forwarder).toMatchObject({delivered: 3})
      sse.close()

      local.child.kill('SIGINT')
      const result = await local.exit
      expect(result.code).toBe(0)
      expect(result.stdout + result.stderr).not.toContain(loopSecret)
    } finally {
      if (local.child.exitCode === null) local.child.kill('SIGKILL')
    }
  })

  it('carries Twilio callbacks from the sandbox through the database and the forwarder to SSE; forged ones reach nothing', async () => {
    const database = await testDatabase.open()
    const port = await closedPort()
    const serveUrl = `http://127.0.0.1:${port}`
    const encryptionKey = newKey().hex
    const keyring = keyringOf(encryptionKey)
    const fixture = twilioSeed()
    const sandbox = await startTwilioSandbox({seed: fixture.seed})
    const flowSecret = generateWebhookSecret()
    const local = startServe(['--port', String(port), '--json', '--database-url', testDatabase.url, '--forward-interval', '200'], {
      ENCRYPTION_KEY: encryptionKey,
      BACKEND_STATUS_WEBHOOK_SECRET: flowSecret,
      BACKEND_STATUS_WEBHOOK_URL: `${serveUrl}/internal/message-status`,
    })
    try {
      const info = await local.info
      expect((await health(info.health)).twilioWebhook).toBe(true)
      await insertTenant(database, 'ten_flow')
      const settings = await seedTwilioChannel(database, keyring, {
        tenantId: 'ten_flow',
        channel: 'sms',
        accountSid: fixture.accountSid,
        authToken: fixture.authToken,
        serviceSid: fixture.serviceSid,
        webhookUrl: `${serveUrl}/webhooks/twilio`,
      })
      const sse = await openSse(`${info.events}?tenant=ten_flow`)
      const provider = await providerFromSettings(settings, {keyring, get: (name) => (name === 'TWILIO_API_BASE_URL' ? sandbox.url : undefined)})
      const messageIds = ['flow-1', 'flow-2', 'flow-3']
      await insertMessages(database, messageIds.map((id) => ({id, tenantId: 'ten_flow'})))
      for (const id of messageIds) {
        const sent = await provider.send({to: '+15551230001', body: `hello ${id}`})
        await storeProviderMessageId(database, id, sent.providerMessageId, sent.status)
      }

      expect(await sandbox.settled(30_000)).toBe(true)
      expect((await sandbox.callbackLog()).map((entry) => entry.httpStatus).every((status) => status === 200)).toBe(true)
      const applied = (await Promise.all(messageIds.map((id) => eventsOf(database, id)))).flat().filter((event) => event.applied === 1)
      expect(applied.filter((event) => event.status === 'delivered')).toHaveLength(messageIds.length)
      await sse.waitFor(applied.length)
      await new Promise((resolve) => setTimeout(resolve, 300))
      expect(sse.frames.map((frame) => frame.data.eventId).sort((a, b) => a - b)).toEqual(applied.map((event) => event.id).sort((a, b) => a - b))
      for (const id of messageIds) {
        const statuses = sse.frames.filter((frame) => frame.data.messageId === id).map((frame) => frame.data.status)
        expect(statuses.at(-1)).toBe('delivered')
      }

      // A callback signed with the wrong token: refused, nothing written, nothing streamed.
      const params = {MessageSid: (await database.db.selectFrom('messages').select('provider_message_id').where('id', '=', 'flow-1').executeTakeFirstOrThrow()).provider_message_id as string, MessageStatus: 'failed', AccountSid: fixture.accountSid}
      const forgedSignature = computeTwilioSignature('0'.repeat(32), `${serveUrl}/webhooks/twilio`, params)
      const eventsBefore = (await eventsOf(database, 'flow-1')).length
      const forged = await fetch(info.twilioWebhook, {
        method: 'POST',
        headers: {'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': forgedSignature},
        body: new URLSearchParams(params).toString(),
      })
      const unsigned = await fetch(info.twilioWebhook, {method: 'POST', headers: {'content-type': 'application/x-www-form-urlencoded'}, body: new URLSearchParams(params).toString()})
      await new Promise((resolve) => setTimeout(resolve, 500))
      expect(forged.status).toBe(403)
      expect(unsigned.status).toBe(400)
      expect((await eventsOf(database, 'flow-1')).length).toBe(eventsBefore)
      expect(sse.frames).toHaveLength(applied.length)
      sse.close()

      local.child.kill('SIGTERM')
      const result = await local.exit
      expect(result.code).toBe(0)
      expect(result.stdout + result.stderr).not.toContain(fixture.authToken)
      expect(result.stdout + result.stderr).not.toContain(encryptionKey)
    } finally {
      if (local.child.exitCode === null) local.child.kill('SIGKILL')
      await sandbox.stop()
    }
  })

  it('refuses to start with a backend URL but no secret, or a malformed secret, naming the variable only', async () => {
    const noSecret = startServe(['--port', '0', '--database-url', testDatabase.url], {BACKEND_STATUS_WEBHOOK_URL: 'http://127.0.0.1:9/x'})
    const badSecretValue = 'whsec_not-base64-at-all!'
    const badSecret = startServe(['--port', '0', '--database-url', testDatabase.url], {BACKEND_STATUS_WEBHOOK_SECRET: badSecretValue})

    const [missing, malformed] = await Promise.all([noSecret.exit, badSecret.exit])

    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('STATUS_WEBHOOK_SECRET_MISSING')
    expect(missing.stderr).toContain('BACKEND_STATUS_WEBHOOK_SECRET')
    expect(malformed.code).toBe(2)
    expect(malformed.stderr).toContain('WEBHOOK_SECRET_INVALID')
    expect(malformed.stdout + malformed.stderr).not.toContain(badSecretValue)
  })
})

/** A tenant, a campaign, one message and one applied status event per status, as the pipeline writes them. */
async function seedStatusEvents(database: Database, tenantId: string, campaignId: string, statuses: string[]): Promise<number[]> {
  const now = new Date().toISOString()
  await database.db.insertInto('tenants').values({id: tenantId, slug: tenantId, name: tenantId, created_at: now}).execute()
  await database.db.insertInto('campaigns').values({id: campaignId, tenant_id: tenantId, name: 'Loop', channel: 'sms', body: 'Hi', created_at: now}).execute()
  await database.db
    .insertInto('messages')
    .values({id: `${tenantId}-msg`, tenant_id: tenantId, campaign_id: campaignId, channel: 'sms', to_address: '+15005550006', status: statuses.at(-1), created_at: now, updated_at: now})
    .execute()
  const ids: number[] = []
  for (const status of statuses) {
    const row = await database.db
      .insertInto('message_status_events')
      .values({message_id: `${tenantId}-msg`, status, provider_status: status, created_at: new Date().toISOString(), applied: 1, source: 'twilio-webhook'})
      .returning('id')
      .executeTakeFirstOrThrow()
    ids.push(Number(row.id))
  }
  return ids
}
