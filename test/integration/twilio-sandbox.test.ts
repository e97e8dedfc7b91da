import {createServer, type IncomingMessage, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import twilio from 'twilio'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {UsageError} from '../../src/errors/engage-error.js'
import {createTwilioClient} from '../../src/providers/twilio/twilio-client.js'
import {connectTwilioSandbox} from '../../src/twilio-sandbox/control-client.js'
import {newAuthToken, newSid} from '../../src/twilio-sandbox/ids.js'
import type {SandboxSeed} from '../../src/twilio-sandbox/seed.js'
import {startTwilioSandbox, type TwilioSandbox} from '../../src/twilio-sandbox/server.js'

interface ReceivedCallback {
  url: string
  params: Record<string, string>
  signature: string
  idempotencyToken: string
}

/** A real HTTP server standing in for engage's webhook endpoint; `answer` picks the status per request. */
async function startReceiver(answer: (index: number) => number = () => 200) {
  const received: ReceivedCallback[] = []
  let index = 0
  const read = async (request: IncomingMessage) => {
    let text = ''
    for await (const chunk of request) text += chunk
    return text
  }
  const server: Server = createServer(async (request, response) => {
    const body = await read(request)
    const {port} = server.address() as AddressInfo
    received.push({
      url: `http://127.0.0.1:${port}${request.url}`,
      params: Object.fromEntries(new URLSearchParams(body)),
      signature: String(request.headers['x-twilio-signature'] ?? ''),
      idempotencyToken: String(request.headers['i-twilio-idempotency-token'] ?? ''),
    })
    response.writeHead(answer(index++)).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo
  return {
    url: (path: string) => `http://127.0.0.1:${port}${path}`,
    received,
    statuses: (messageSid: string) => received.filter((r) => r.params.MessageSid === messageSid).map((r) => r.params.MessageStatus),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

function makeSeed() {
  const active = {sid: newSid('AC'), authToken: newAuthToken(), status: 'active' as const, friendlyName: 'Tenant A'}
  const suspended = {sid: newSid('AC'), authToken: newAuthToken(), status: 'suspended' as const, friendlyName: 'Tenant B'}
  const closed = {sid: newSid('AC'), authToken: newAuthToken(), status: 'closed' as const}
  const service = {sid: newSid('MG'), accountSid: active.sid, friendlyName: 'A service', phoneNumbers: ['+15005550006', '+15005550007', 'whatsapp:+15005550008']}
  const otherService = {sid: newSid('MG'), accountSid: suspended.sid, phoneNumbers: ['+15005550009']}
  const seed: SandboxSeed = {accounts: [active, suspended, closed], services: [service, otherService]}
  return {seed, active, suspended, closed, service, otherService}
}

/** What the SDK threw, as engage reads it. */
async function failure(promise: Promise<unknown>): Promise<{name: string; code?: number; status?: number; moreInfo?: string; message: string}> {
  try {
    await promise
  } catch (error) {
    const e = error as {constructor: {name: string}; code?: number; status?: number; moreInfo?: string; message: string}
    return {name: e.constructor.name, code: e.code, status: e.status, moreInfo: e.moreInfo, message: e.message}
  }
  throw new Error('expected the call to fail')
}

describe('Twilio sandbox through the real twilio SDK', () => {
  let sandbox: TwilioSandbox
  let fixture: ReturnType<typeof makeSeed>
  let client: twilio.Twilio
  let receiver: Awaited<ReturnType<typeof startReceiver>> | undefined

  beforeEach(async () => {
    fixture = makeSeed()
    sandbox = await startTwilioSandbox({seed: fixture.seed, behaviour: {callbacks: {stepDelayMs: 5}}})
    client = createTwilioClient({accountSid: fixture.active.sid, authToken: fixture.active.authToken, baseUrl: sandbox.url})
  })

  afterEach(async () => {
    await sandbox.stop()
    await receiver?.close()
    receiver = undefined
  })

  describe('accounts', () => {
    it('fetches the account with its status', async () => {
      const account = await client.api.v2010.accounts(fixture.active.sid).fetch()
      expect(account).toMatchObject({sid: fixture.active.sid, status: 'active', friendlyName: 'Tenant A', type: 'Full'})
      expect(account.dateCreated).toBeInstanceOf(Date)
      expect(Number.isNaN(account.dateCreated.getTime())).toBe(false)
    })

    it('answers a wrong auth token with RestException 20003', async () => {
      const wrong = createTwilioClient({accountSid: fixture.active.sid, authToken: newAuthToken(), baseUrl: sandbox.url})
      expect(await failure(wrong.api.v2010.accounts(fixture.active.sid).fetch())).toEqual({
        name: 'RestException',
        code: 20003,
        status: 401,
        moreInfo: 'https://www.twilio.com/docs/errors/20003',
        message: 'Authenticate',
      })
    })

    it("refuses another account's sid with these credentials and a closed account entirely", async () => {
      expect(await failure(client.api.v2010.accounts(fixture.suspended.sid).fetch())).toMatchObject({code: 20003, status: 401})
      const closed = createTwilioClient({accountSid: fixture.closed.sid, authToken: fixture.closed.authToken, baseUrl: sandbox.url})
      expect(await failure(closed.api.v2010.accounts(fixture.closed.sid).fetch())).toMatchObject({code: 20003})
    })

    it('shows a suspended account as suspended and refuses its sends', async () => {
      const suspended = createTwilioClient({accountSid: fixture.suspended.sid, authToken: fixture.suspended.authToken, baseUrl: sandbox.url})
      expect((await suspended.api.v2010.accounts(fixture.suspended.sid).fetch()).status).toBe('suspended')
      expect(await failure(suspended.messages.create({to: '+15551230001', from: '+15005550009', body: 'hi'}))).toMatchObject({code: 10001, status: 403})
    })

    it('reflects a status changed at run time through the control plane', async () => {
      await connectTwilioSandbox(sandbox.url).setAccountStatus(fixture.active.sid, 'suspended')
      expect((await client.api.v2010.accounts(fixture.active.sid).fetch()).status).toBe('suspended')
    })
  })

  describe('messaging services', () => {
    it('fetches the service and pages through its phone numbers and WhatsApp senders', async () => {
      const service = await client.messaging.v1.services(fixture.service.sid).fetch()
      expect(service).toMatchObject({sid: fixture.service.sid, accountSid: fixture.active.sid, friendlyName: 'A service'})
      const numbers = await client.messaging.v1.services(fixture.service.sid).phoneNumbers.list({pageSize: 2})
      expect(numbers.map((n) => n.phoneNumber)).toEqual(['+15005550006', '+15005550007', '+15005550008'])
      expect(numbers.every((n) => /^PN[0-9a-f]{32}$/.test(n.sid) && n.serviceSid === fixture.service.sid)).toBe(true)
      const senders = await client.messaging.v1.services(fixture.service.sid).channelSenders.list()
      expect(senders.map((s) => s.sender)).toEqual(['whatsapp:+15005550008'])
    })

    it("answers 20404 for a service of another account and for an unknown one", async () => {
      expect(await failure(client.messaging.v1.services(fixture.otherService.sid).fetch())).toMatchObject({code: 20404, status: 404})
      expect(await failure(client.messaging.v1.services(newSid('MG')).phoneNumbers.list())).toMatchObject({status: 404})
    })
  })

  describe('messages', () => {
    it('creates from a number and fetches the message as it progresses', async () => {
      const created = await client.messages.create({to: '+15551230001', from: '+15005550006', body: 'Hello'})
      expect(created).toMatchObject({to: '+15551230001', from: '+15005550006', body: 'Hello', status: 'queued', accountSid: fixture.active.sid, numSegments: '1', direction: 'outbound-api'})
      expect(created.sid).toMatch(/^SM[0-9a-f]{32}$/)
      expect(created.uri).toBe(`/2010-04-01/Accounts/${fixture.active.sid}/Messages/${created.sid}.json`)
      expect(await sandbox.settled()).toBe(true)
      const fetched = await client.messages(created.sid).fetch()
      expect(fetched).toMatchObject({sid: created.sid, status: 'delivered', errorCode: null})
      expect(fetched.dateSent).toBeInstanceOf(Date)
    })

    it('accepts through a messaging service and assigns a sender of the service', async () => {
      const created = await client.messages.create({to: '+15551230002', messagingServiceSid: fixture.service.sid, body: 'Hi'})
      expect(created).toMatchObject({status: 'accepted', from: null, numSegments: '0', messagingServiceSid: fixture.service.sid})
      await sandbox.settled()
      const fetched = await client.messages(created.sid).fetch()
      expect(fetched.status).toBe('delivered')
      expect(['+15005550006', '+15005550007', '+15005550008']).toContain(fetched.from)
    })

    it('sends WhatsApp through the service from its WhatsApp sender, up to read', async () => {
      const created = await client.messages.create({to: 'whatsapp:+15551230003', messagingServiceSid: fixture.service.sid, body: 'Hola'})
      await sandbox.settled()
      expect(await client.messages(created.sid).fetch()).toMatchObject({status: 'read', from: 'whatsapp:+15005550008', to: 'whatsapp:+15551230003'})
    })

    it('answers 20404 for an unknown message', async () => {
      expect(await failure(client.messages(newSid('SM')).fetch())).toMatchObject({code: 20404, status: 404})
    })

    it.each([
      ['an invalid To', {to: '555-1234', from: '+15005550006', body: 'x'}, 21211],
      ['a From the account does not own', {to: '+15551230004', from: '+15005559999', body: 'x'}, 21606],
      ['no From and no service', {to: '+15551230004', body: 'x'}, 21603],
      ['an unknown service', {to: '+15551230004', messagingServiceSid: newSid('MG'), body: 'x'}, 21705],
      ['no Body', {to: '+15551230004', from: '+15005550006'}, 21602],
      ['a WhatsApp To from an SMS number', {to: 'whatsapp:+15551230004', from: '+15005550006', body: 'x'}, 21910],
    ])('refuses %s with 400 and its Twilio code, storing nothing', async (_label, params, code) => {
      expect(await failure(client.messages.create(params))).toMatchObject({name: 'RestException', status: 400, code})
      expect(await sandbox.messages()).toEqual([])
      expect((await sandbox.counters()).rejected).toBe(1)
    })

    it('refuses opted-out recipients with 21610, configured at run time', async () => {
      await sandbox.configure({optedOut: ['+15551230005'], rejectRecipients: {'+15551230006': 21211}})
      expect(await failure(client.messages.create({to: '+15551230005', from: '+15005550006', body: 'x'}))).toMatchObject({status: 400, code: 21610})
      expect(await failure(client.messages.create({to: 'whatsapp:+15551230005', messagingServiceSid: fixture.service.sid, body: 'x'}))).toMatchObject({code: 21610})
      expect(await failure(client.messages.create({to: '+15551230006', from: '+15005550006', body: 'x'}))).toMatchObject({code: 21211})
      await client.messages.create({to: '+15551230007', from: '+15005550006', body: 'x'})
      expect((await sandbox.counters()).accepted).toBe(1)
    })
  })

  describe('faults', () => {
    const sendAll = async (c: twilio.Twilio, n: number) => {
      const codes: number[] = []
      for (let i = 0; i < n; i++) {
        try {
          await c.messages.create({to: `+1555123${String(i).padStart(4, '0')}`, from: '+15005550006', body: `m${i}`})
          codes.push(0)
        } catch (error) {
          codes.push((error as {code: number}).code)
        }
      }
      return codes
    }

    it('fails a seeded share of sends with 429 / 20429, the same ones on every run', async () => {
      await sandbox.configure({sendFailures: {ratio: 0.25, seed: 42, status: 429}})
      const first = await sendAll(client, 80)
      const failed = first.filter((code) => code === 20429).length
      expect(failed).toBeGreaterThan(8)
      expect(failed).toBeLessThan(32)
      expect(first.every((code) => code === 0 || code === 20429)).toBe(true)
      const counters = await sandbox.counters()
      expect({creates: counters.creates, faulted: counters.faulted, accepted: counters.accepted}).toEqual({creates: 80, faulted: failed, accepted: 80 - failed})

      await sandbox.configure({sendFailures: {ratio: 0.25, seed: 42, status: 429}})
      expect(await sendAll(client, 80)).toEqual(first)
    })

    it('fails every Nth send with 500 and stops when the rule is removed', async () => {
      await sandbox.configure({sendFailures: {everyNth: 4, status: 500}})
      const codes = await sendAll(client, 8)
      expect(codes).toEqual([0, 0, 0, 20500, 0, 0, 0, 20500])
      await sandbox.configure({sendFailures: null})
      expect(await sendAll(client, 4)).toEqual([0, 0, 0, 0])
    })

    it("counts the SDK's own 429 retries as attempts of one accepted send", async () => {
      const retrying = createTwilioClient({accountSid: fixture.active.sid, authToken: fixture.active.authToken, baseUrl: sandbox.url, autoRetry: true, maxRetries: 3})
      await sandbox.configure({sendFailures: {everyNth: 2}})
      await retrying.messages.create({to: '+15551239000', from: '+15005550006', body: 'one'})
      await retrying.messages.create({to: '+15551239001', from: '+15005550006', body: 'two'})
      const {byRecipient} = await sandbox.counters()
      expect(byRecipient.map(({to, attempts, accepted}) => ({to, attempts, accepted}))).toEqual([
        {to: '+15551239000', attempts: 1, accepted: 1},
        {to: '+15551239001', attempts: 2, accepted: 1},
      ])
    })

    it('answers slowly: a client that gives up first still sent the message', async () => {
      await sandbox.configure({latencyMs: 1500})
      const impatient = createTwilioClient({accountSid: fixture.active.sid, authToken: fixture.active.authToken, baseUrl: sandbox.url, timeoutMs: 100})
      const outcome = await failure(impatient.messages.create({to: '+15551239100', from: '+15005550006', body: 'slow'}))
      expect(outcome.name).not.toBe('RestException')
      expect(outcome.message).toMatch(/timeout/i)
      // The sandbox finishes the create after its latency, whether or not the client still listens.
      let counters = await sandbox.counters()
      for (let tries = 0; counters.creates === 0 && tries < 200; tries++) {
        await new Promise((resolve) => setTimeout(resolve, 50))
        counters = await sandbox.counters()
      }
      expect(counters.byRecipient).toEqual([expect.objectContaining({to: '+15551239100', attempts: 1, accepted: 1})])
    })
  })

  describe('status callbacks', () => {
    const validFor = (callback: ReceivedCallback, token: string) => twilio.validateRequest(token, callback.signature, callback.url, callback.params)

    it('posts each status with a signature the SDK validates, and a wrong token does not', async () => {
      receiver = await startReceiver()
      const statusCallback = receiver.url('/webhooks/twilio/status?message=msg_1&tenant=7')
      const created = await client.messages.create({to: '+15551231000', messagingServiceSid: fixture.service.sid, body: 'Hi', statusCallback})
      await sandbox.settled()
      expect(receiver.statuses(created.sid)).toEqual(['queued', 'sent', 'delivered'])
      for (const callback of receiver.received) {
        expect(callback.url).toBe(statusCallback)
        expect(validFor(callback, fixture.active.authToken)).toBe(true)
        expect(validFor(callback, fixture.suspended.authToken)).toBe(false)
      }
      expect(receiver.received[2]?.params).toMatchObject({
        MessageSid: created.sid,
        SmsSid: created.sid,
        AccountSid: fixture.active.sid,
        MessagingServiceSid: fixture.service.sid,
        To: '+15551231000',
        MessageStatus: 'delivered',
        SmsStatus: 'delivered',
        ApiVersion: '2010-04-01',
      })
      expect((await sandbox.counters()).callbacksByMessage[created.sid]).toEqual({attempts: 3, delivered: 3, failed: 0})
    })

    it('reports a failed delivery with its error code, on the message and in the callback', async () => {
      receiver = await startReceiver()
      await sandbox.configure({failDelivery: {'+15551231001': 30003, '+15551231002': 63016}})
      const sms = await client.messages.create({to: '+15551231001', from: '+15005550006', body: 'x', statusCallback: receiver.url('/s')})
      const wa = await client.messages.create({to: 'whatsapp:+15551231002', from: 'whatsapp:+15005550008', body: 'x', statusCallback: receiver.url('/w')})
      await sandbox.settled()
      expect(receiver.statuses(sms.sid)).toEqual(['sent', 'undelivered'])
      expect(receiver.statuses(wa.sid)).toEqual(['failed'])
      const waCallback = receiver.received.find((r) => r.params.MessageSid === wa.sid)
      expect(waCallback?.params).toMatchObject({ErrorCode: '63016', ChannelPrefix: 'whatsapp', To: 'whatsapp:+15551231002'})
      expect(validFor(waCallback!, fixture.active.authToken)).toBe(true)
      expect(await client.messages(sms.sid).fetch()).toMatchObject({status: 'undelivered', errorCode: 30003, errorMessage: 'Unreachable destination handset'})
    })

    it('sends callbacks out of order when told to', async () => {
      receiver = await startReceiver()
      await sandbox.configure({callbacks: {outOfOrder: true}})
      const created = await client.messages.create({to: '+15551231003', messagingServiceSid: fixture.service.sid, body: 'x', statusCallback: receiver.url('/o')})
      await sandbox.settled()
      expect(receiver.statuses(created.sid)).toEqual(['delivered', 'sent', 'queued'])
      expect(receiver.received.every((r) => validFor(r, fixture.active.authToken))).toBe(true)
    })

    it('sends every callback twice with the same idempotency token when told to', async () => {
      receiver = await startReceiver()
      await sandbox.configure({callbacks: {twice: true}})
      const created = await client.messages.create({to: '+15551231004', from: '+15005550006', body: 'x', statusCallback: receiver.url('/t')})
      await sandbox.settled()
      expect(receiver.statuses(created.sid)).toEqual(['sent', 'sent', 'delivered', 'delivered'])
      const [a, b, c] = receiver.received
      expect(a?.idempotencyToken).toBe(b?.idempotencyToken)
      expect(a?.idempotencyToken).not.toBe(c?.idempotencyToken)
      expect((await sandbox.callbackLog()).map((entry) => entry.duplicate)).toEqual([false, true, false, true])
    })

    it('sends callbacks late: the message is delivered before its first callback arrives', async () => {
      receiver = await startReceiver()
      await sandbox.configure({callbacks: {lateByMs: 800}})
      const created = await client.messages.create({to: '+15551231005', from: '+15005550006', body: 'x', statusCallback: receiver.url('/l')})
      let status = created.status
      while (status !== 'delivered') status = (await client.messages(created.sid).fetch()).status
      expect(receiver.received).toHaveLength(0)
      await sandbox.settled()
      expect(receiver.statuses(created.sid)).toEqual(['sent', 'delivered'])
    })

    it('retries a callback the receiver refused, a bounded number of times', async () => {
      receiver = await startReceiver((index) => (index === 0 ? 500 : 200))
      await sandbox.configure({callbacks: {maxAttempts: 2, retryDelayMs: 1}})
      const retried = await client.messages.create({to: '+15551231006', from: '+15005550006', body: 'x', statusCallback: receiver.url('/r')})
      await sandbox.settled()
      expect((await sandbox.callbackLog()).map(({status, attempt, httpStatus}) => ({status, attempt, httpStatus}))).toEqual([
        {status: 'sent', attempt: 1, httpStatus: 500},
        {status: 'sent', attempt: 2, httpStatus: 200},
        {status: 'delivered', attempt: 1, httpStatus: 200},
      ])
      expect((await sandbox.counters()).callbacksByMessage[retried.sid]).toEqual({attempts: 3, delivered: 2, failed: 1})
    })

    it('gives up on an unreachable callback URL after the configured attempts', async () => {
      const gone = await startReceiver()
      const url = gone.url('/gone')
      await gone.close()
      await sandbox.configure({callbacks: {maxAttempts: 3, retryDelayMs: 1}})
      const created = await client.messages.create({to: '+15551231007', from: '+15005550006', body: 'x', statusCallback: url})
      await sandbox.settled()
      const log = await sandbox.callbackLog()
      expect(log).toHaveLength(6)
      expect(log.every((entry) => entry.httpStatus === null && entry.error !== null)).toBe(true)
      expect((await client.messages(created.sid).fetch()).status).toBe('delivered')
    })
  })

  describe('send counters', () => {
    it('counts sends per recipient and body and per status callback URL', async () => {
      const once = 'http://127.0.0.1:9/cb?message=once'
      const twice = 'http://127.0.0.1:9/cb?message=twice'
      await sandbox.configure({callbacks: {maxAttempts: 1}})
      await client.messages.create({to: '+15551232000', from: '+15005550006', body: 'A', statusCallback: once})
      await client.messages.create({to: '+15551232001', from: '+15005550006', body: 'B', statusCallback: twice})
      await client.messages.create({to: '+15551232001', from: '+15005550006', body: 'B', statusCallback: twice})
      const counters = await sandbox.counters()
      const byUrl = Object.fromEntries(counters.byStatusCallback.map((c) => [c.statusCallback, c.accepted]))
      expect(byUrl).toEqual({[once]: 1, [twice]: 2})
      expect(counters.byRecipient.map(({to, body, accepted, messageSids}) => ({to, body, accepted, sids: messageSids.length}))).toEqual([
        {to: '+15551232000', body: 'A', accepted: 1, sids: 1},
        {to: '+15551232001', body: 'B', accepted: 2, sids: 2},
      ])
    })

    it('forgets messages and counters on reset but keeps the accounts', async () => {
      await client.messages.create({to: '+15551232002', from: '+15005550006', body: 'A'})
      await sandbox.reset()
      expect((await sandbox.counters()).creates).toBe(0)
      expect(await sandbox.messages()).toEqual([])
      expect((await client.api.v2010.accounts(fixture.active.sid).fetch()).status).toBe('active')
    })
  })

  describe('control plane over HTTP', () => {
    it('seeds, configures and reads counters from another client, never returning a token', async () => {
      const control = connectTwilioSandbox(sandbox.url)
      const extra = {sid: newSid('AC'), authToken: newAuthToken()}
      const summary = await control.seed({accounts: [extra]})
      expect(summary.accounts.map((a) => a.sid)).toContain(extra.sid)
      const raw = await (await fetch(`${sandbox.url}/_sandbox/seed`)).text()
      for (const account of [...fixture.seed.accounts, extra]) expect(raw).not.toContain(account.authToken)
      await control.configure({optedOut: ['+15551233000']})
      expect((await control.behaviour()).optedOut).toEqual(['+15551233000'])
      const other = createTwilioClient({accountSid: extra.sid, authToken: extra.authToken, baseUrl: sandbox.url})
      expect((await other.api.v2010.accounts(extra.sid).fetch()).status).toBe('active')
      expect((await control.counters()).creates).toBe(0)
    })

    it('refuses a bad behaviour patch with 400 and keeps the current one', async () => {
      const response = await fetch(`${sandbox.url}/_sandbox/behaviour`, {method: 'PATCH', headers: {'Content-Type': 'application/json'}, body: JSON.stringify({latencyMs: -5})})
      expect(response.status).toBe(400)
      expect(((await response.json()) as {error: {code: string}}).error.code).toBe('SANDBOX_BEHAVIOUR_INVALID')
      expect((await sandbox.behaviour()).latencyMs).toBe(0)
    })
  })
})

describe('createTwilioClient', () => {
  it('refuses a base URL that is not http(s)', () => {
    expect(() => createTwilioClient({accountSid: newSid('AC'), authToken: newAuthToken(), baseUrl: 'ftp://127.0.0.1:1'})).toThrow(UsageError)
  })
})
