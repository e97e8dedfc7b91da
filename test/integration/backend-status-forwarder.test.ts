import {spawn} from 'node:child_process'
import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {forwardStatusEvents, startStatusForwarder} from '../../src/backend-status/forwarder.js'
import {notifyStatusApplied} from '../../src/backend-status/status-applied.js'
import type {MessageStatusPayload} from '../../src/backend-status/status-payload.js'
import type {Database} from '../../src/db/database.js'
import {generateWebhookSecret, verifyWebhook, WebhookVerifier} from '../../src/webhooks/standard-webhooks.js'
import {DIALECTS, type TestDatabase} from '../support/databases.js'
import {PROJECT_ROOT} from '../support/run-cli.js'
import {closedPort, migratedDatabase} from '../support/seed-fixtures.js'

/** How the receiving backend answers. `lose-response` processes the delivery, then answers 500 as if the response was lost. */
type Mode = 'up' | 'error' | 'lose-response'

interface Receiver {
  url: string
  mode: Mode
  /** Raw POSTs per webhook-id, before any dedupe. */
  posts: Map<string, number>
  /** Deliveries the receiver applied: verified, not a replay. */
  accepted: MessageStatusPayload[]
  rejected: number
  delayMs: number
  close(): Promise<void>
}

/** A real HTTP backend that verifies each delivery the way the spec asks (signature, tolerance, replay) before applying it. */
async function startReceiver(secret: string): Promise<Receiver> {
  const verifier = new WebhookVerifier({secrets: secret})
  const receiver: Receiver = {url: '', mode: 'up', posts: new Map(), accepted: [], rejected: 0, delayMs: 0, close: async () => {}}
  const server: Server = createServer(async (request, response) => {
    const chunks: Buffer[] = []
    for await (const chunk of request) chunks.push(chunk as Buffer)
    const body = Buffer.concat(chunks)
    const id = String(request.headers['webhook-id'])
    receiver.posts.set(id, (receiver.posts.get(id) ?? 0) + 1)
    if (receiver.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, receiver.delayMs))
    if (receiver.mode === 'error') return response.writeHead(500).end('backend exploded')
    // The stateless check first (what any receiver must do), then the replay cache.
    const stateless = verifyWebhook(request.headers, body, secret)
    if (!stateless.ok) {
      receiver.rejected++
      return response.writeHead(401).end(stateless.reason)
    }
    const verified = verifier.verify(request.headers, body)
    if (!verified.ok) return response.writeHead(verified.reason === 'duplicate_id' ? 200 : 401).end(verified.reason)
    receiver.accepted.push(JSON.parse(body.toString('utf8')) as MessageStatusPayload)
    response.writeHead(receiver.mode === 'lose-response' ? 500 : 204).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/internal/message-status`
  receiver.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  return receiver
}

interface Fixture {
  tenantId: string
  campaignId: string
}

async function seedTenant(database: Database, tenantId: string, campaignId: string): Promise<Fixture> {
  const now = new Date().toISOString()
  await database.db.insertInto('tenants').values({id: tenantId, slug: tenantId, name: `Tenant ${tenantId}`, created_at: now}).execute()
  await database.db
    .insertInto('campaigns')
    .values({id: campaignId, tenant_id: tenantId, name: 'Spring', channel: 'sms', body: 'Hello', status: 'sending', created_at: now})
    .execute()
  return {tenantId, campaignId}
}

/** One message with one applied status event per status; returns the event ids in order. */
async function seedMessage(database: Database, fixture: Fixture, messageId: string, statuses: string[], extra: {applied?: number} = {}): Promise<number[]> {
  const now = new Date().toISOString()
  await database.db
    .insertInto('messages')
    .values({
      id: messageId,
      tenant_id: fixture.tenantId,
      campaign_id: fixture.campaignId,
      channel: 'sms',
      provider: 'twilio',
      to_address: '+15005550006',
      provider_message_id: `SM${messageId.replace(/[^0-9a-z]/gi, '').padEnd(32, '0').slice(0, 32)}`,
      status: statuses.at(-1),
      created_at: now,
      updated_at: now,
    })
    .execute()
  const ids: number[] = []
  for (const status of statuses) {
    const row = await database.db
      .insertInto('message_status_events')
      .values({
        message_id: messageId,
        status,
        provider_status: status,
        status_reason: status === 'undelivered' ? '30007: Carrier violation' : null,
        created_at: new Date().toISOString(),
        applied: extra.applied ?? 1,
        source: 'twilio-webhook',
      })
      .returning('id')
      .executeTakeFirstOrThrow()
    ids.push(Number(row.id))
  }
  return ids
}

async function seedMessages(database: Database, fixture: Fixture, count: number, statuses: string[]): Promise<number[]> {
  const ids: number[] = []
  for (let i = 0; i < count; i++) ids.push(...(await seedMessage(database, fixture, `msg-${fixture.tenantId}-${i}`, statuses)))
  return ids
}

interface EventRow {
  id: number
  applied: number
  backend_attempts: number
  backend_delivered_at: string | null
  backend_next_attempt_at: string | null
  backend_last_error: string | null
}

async function eventRows(database: Database): Promise<EventRow[]> {
  const rows = await database.db.selectFrom('message_status_events').selectAll().orderBy('id').execute()
  return rows.map((row) => ({...row, id: Number(row.id), backend_attempts: Number(row.backend_attempts), applied: Number(row.applied)}) as EventRow)
}

const FAST_BACKOFF = {baseMs: 20, maxMs: 100}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe.each(DIALECTS)('backend status forwarder (%s)', (dialect) => {
  let testDatabase: TestDatabase
  let database: Database
  let secret: string
  let receiver: Receiver

  beforeEach(async () => {
    testDatabase = await migratedDatabase(dialect)
    database = await testDatabase.open()
    secret = generateWebhookSecret()
    receiver = await startReceiver(secret)
  })

  afterEach(async () => {
    await receiver.close()
    await testDatabase.dispose()
  })

  it('posts each applied event once, signed so a Standard Webhooks receiver verifies it, and marks it delivered', async () => {
    const fixture = await seedTenant(database, 'tenant-a', 'campaign-a')
    const [queued, sent, undelivered] = await seedMessage(database, fixture, 'msg-1', ['queued', 'sent', 'undelivered'])
    const [notApplied] = await seedMessage(database, fixture, 'msg-2', ['queued'], {applied: 0})

    const result = await forwardStatusEvents({database, url: receiver.url, secret})

    expect(result).toEqual({delivered: 3, failed: 0, pending: 0})
    expect(receiver.rejected).toBe(0)
    expect(receiver.accepted.map((payload) => payload.data.eventId)).toEqual([queued, sent, undelivered])
    expect(receiver.accepted[2]).toEqual({
      type: 'message.status',
      data: {
        eventId: undelivered,
        messageId: 'msg-1',
        tenantId: 'tenant-a',
        campaignId: 'campaign-a',
        channel: 'sms',
        status: 'undelivered',
        providerStatus: 'undelivered',
        statusReason: '30007: Carrier violation',
        providerMessageId: expect.stringMatching(/^SM/),
        occurredAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      },
    })
    expect([...receiver.posts.keys()].sort()).toEqual([queued, sent, undelivered].map((id) => `msgstatus_${id}`).sort())
    const rows = await eventRows(database)
    for (const row of rows.filter((r) => r.id !== notApplied)) expect(row.backend_delivered_at).not.toBeNull()
    expect(rows.find((row) => row.id === notApplied)?.backend_delivered_at).toBeNull()

    // A second run finds nothing to send.
    expect(await forwardStatusEvents({database, url: receiver.url, secret})).toEqual({delivered: 0, failed: 0, pending: 0})
    expect([...receiver.posts.values()].every((count) => count === 1)).toBe(true)
  })

  it('loses nothing while the backend is down, then delivers every event, each accepted once', async () => {
    const fixture = await seedTenant(database, 'tenant-b', 'campaign-b')
    const eventIds = await seedMessages(database, fixture, 8, ['queued', 'sent', 'delivered'])
    const deps = {database, secret, backoff: FAST_BACKOFF, timeoutMs: 2_000}

    // Nothing listening: connection refused.
    const refusedUrl = `http://127.0.0.1:${await closedPort()}/internal/message-status`
    const refused = await forwardStatusEvents({...deps, url: refusedUrl})
    expect(refused.delivered).toBe(0)
    expect(refused.failed).toBeGreaterThan(0)
    expect(refused.pending).toBe(eventIds.length)
    const afterRefused = (await eventRows(database)).filter((row) => row.backend_attempts > 0)
    expect(afterRefused.length).toBe(refused.failed)
    for (const row of afterRefused) {
      expect(row.backend_last_error).toMatch(/ECONNREFUSED/)
      expect(row.backend_next_attempt_at).not.toBeNull()
      expect(row.backend_delivered_at).toBeNull()
    }

    // Up but failing: 500s for a while.
    receiver.mode = 'error'
    const until = Date.now() + 1_500
    while (Date.now() < until) {
      const run = await forwardStatusEvents({...deps, url: receiver.url})
      expect(run.delivered).toBe(0)
      await sleep(30)
    }
    expect((await eventRows(database)).some((row) => /HTTP 500: backend exploded/.test(row.backend_last_error ?? ''))).toBe(true)

    // The backend applies deliveries but the responses get lost, so the forwarder posts them again.
    receiver.mode = 'lose-response'
    await forwardStatusEvents({...deps, url: receiver.url})
    await forwardStatusEvents({...deps, url: receiver.url})
    expect(receiver.accepted.length).toBeGreaterThan(0)

    receiver.mode = 'up'
    const deadline = Date.now() + 30_000
    let pending = Infinity
    while (pending > 0 && Date.now() < deadline) {
      pending = (await forwardStatusEvents({...deps, url: receiver.url})).pending
      if (pending > 0) await sleep(40)
    }

    expect(pending).toBe(0)
    const acceptedIds = receiver.accepted.map((payload) => payload.data.eventId).sort((a, b) => a - b)
    expect(acceptedIds).toEqual([...eventIds].sort((a, b) => a - b))
    // Some ids were posted more than once, and the receiver dropped the repeats.
    expect([...receiver.posts.values()].some((count) => count > 1)).toBe(true)
    for (const row of await eventRows(database)) expect(row.backend_delivered_at).not.toBeNull()
  })

  it("keeps a message's statuses in order when an earlier one has to be retried", async () => {
    const fixture = await seedTenant(database, 'tenant-c', 'campaign-c')
    const [queued, sent, delivered] = await seedMessage(database, fixture, 'msg-order', ['queued', 'sent', 'delivered'])
    receiver.mode = 'error'
    await forwardStatusEvents({database, url: receiver.url, secret, backoff: FAST_BACKOFF})
    // Only the oldest event of the message was tried; the later ones waited behind it.
    expect([...receiver.posts.keys()]).toEqual([`msgstatus_${queued}`])

    receiver.mode = 'up'
    await sleep(FAST_BACKOFF.maxMs + 20)
    const result = await forwardStatusEvents({database, url: receiver.url, secret, backoff: FAST_BACKOFF})

    expect(result.pending).toBe(0)
    expect(receiver.accepted.map((payload) => payload.data.eventId)).toEqual([queued, sent, delivered])
  })

  it('splits the events between forwarders racing in separate processes, each posted once', async () => {
    const fixture = await seedTenant(database, 'tenant-d', 'campaign-d')
    const eventIds = await seedMessages(database, fixture, 120, ['sent', 'delivered'])
    receiver.delayMs = 3

    const children = [spawnForwarder(testDatabase.url, receiver.url, secret), spawnForwarder(testDatabase.url, receiver.url, secret)]
    await Promise.all(children.map((child) => child.ready))
    for (const child of children) child.go()
    const results = await Promise.all(children.map((child) => child.done))

    expect(results.reduce((sum, result) => sum + result.delivered, 0)).toBe(eventIds.length)
    for (const result of results) expect(result.delivered).toBeGreaterThan(0)
    expect(receiver.posts.size).toBe(eventIds.length)
    expect([...receiver.posts.entries()].filter(([, count]) => count !== 1)).toEqual([])
    expect(receiver.accepted).toHaveLength(eventIds.length)
    for (const row of await eventRows(database)) expect(row.backend_delivered_at).not.toBeNull()
  })

  it('runs in a loop that delivers a new status at once when kicked', async () => {
    const fixture = await seedTenant(database, 'tenant-e', 'campaign-e')
    const loop = startStatusForwarder({database, url: receiver.url, secret, intervalMs: 60_000})
    try {
      await waitUntil(() => loop.stats().runs >= 1)
      const [eventId] = await seedMessage(database, fixture, 'msg-kick', ['sent'])
      loop.kick()
      await waitUntil(() => receiver.accepted.length === 1)
      expect(receiver.accepted[0]?.data.eventId).toBe(eventId)

      // The process-wide hook that status writers call works the same way.
      const [second] = await seedMessage(database, fixture, 'msg-notify', ['delivered'])
      notifyStatusApplied()
      await waitUntil(() => receiver.accepted.length === 2)
      expect(receiver.accepted[1]?.data.eventId).toBe(second)
    } finally {
      await loop.stop()
    }
    expect(loop.stats()).toMatchObject({delivered: 2, failed: 0})
  })
})

async function waitUntil(condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await sleep(20)
  }
}

const CHILD_SCRIPT = `
import {openDatabase} from './src/db/database.ts'
import {forwardStatusEvents} from './src/backend-status/forwarder.ts'
const database = await openDatabase(process.env.FORWARDER_DATABASE_URL)
process.stdout.write('ready\\n')
await new Promise((resolve) => process.stdin.once('data', resolve))
const totals = {delivered: 0, failed: 0}
const deadline = Date.now() + 60_000
for (;;) {
  const result = await forwardStatusEvents({database, url: process.env.FORWARDER_URL, secret: process.env.FORWARDER_SECRET, batchSize: 5})
  totals.delivered += result.delivered
  totals.failed += result.failed
  if (result.pending === 0 || Date.now() > deadline) break
  await new Promise((resolve) => setTimeout(resolve, 10))
}
await database.close()
process.stdout.write(JSON.stringify(totals) + '\\n')
`

/** A forwarder in its own process (its own database connection), started on `go()` so both race from the same instant. */
function spawnForwarder(databaseUrl: string, url: string, secret: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CHILD_SCRIPT], {
    cwd: PROJECT_ROOT,
    env: {PATH: process.env.PATH, HOME: process.env.HOME, FORWARDER_DATABASE_URL: databaseUrl, FORWARDER_URL: url, FORWARDER_SECRET: secret},
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  let onReady: () => void = () => {}
  const ready = new Promise<void>((resolve) => (onReady = resolve))
  child.stdout.on('data', (chunk) => {
    stdout += chunk
    if (stdout.startsWith('ready\n')) onReady()
  })
  child.stderr.on('data', (chunk) => (stderr += chunk))
  const done = new Promise<{delivered: number; failed: number}>((resolve, reject) => {
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`forwarder process exited ${code}: ${stderr}`))
      resolve(JSON.parse(stdout.trim().split('\n').at(-1)!))
    })
  })
  return {ready, done, go: () => child.stdin.end('go\n')}
}
