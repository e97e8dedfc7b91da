import {randomBytes} from 'node:crypto'
import {connect} from 'node:net'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {startPipeline, type Pipeline} from '../../bench/support/pipeline-harness.js'
import {newSid} from '../../src/twilio-sandbox/ids.js'
import {computeTwilioSignature} from '../../src/webhooks/twilio-signature.js'
import {DIALECTS} from '../support/databases.js'
import {statusWriteCounts} from '../support/webhook-messages.js'

/**
 * Bad input at serve's POST /webhooks/twilio, with the public URL configured
 * as https (WEBHOOK_BASE_URL), tenants' real tokens in the database, and an
 * SSE reader on /events: forgeries are refused without a write or an event,
 * malformed requests get a 4xx, and the server keeps serving.
 */
const PUBLIC_BASE = 'https://hooks.engage.example'
const SIGNED_URL = `${PUBLIC_BASE}/webhooks/twilio`
const FORGERIES = 1_000

type Params = Record<string, string>
interface Forgery {
  kind: string
  params: Params
  signature: string
  /** Path and query the request is sent to on the local server (default /webhooks/twilio). */
  path?: string
}

describe.each(DIALECTS)("Twilio webhook forgeries and malformed requests at serve over %s", (dialect) => {
  let pipeline: Pipeline
  let sids: string[]

  beforeAll(async () => {
    pipeline = await startPipeline({dialect, queueKind: 'local', publicWebhookBaseUrl: PUBLIC_BASE})
    // Messages already sent: rows holding their Twilio SIDs, as the sender stores them.
    const {messages} = await pipeline.newCampaign('sms', 20)
    sids = messages.map(() => newSid('SM'))
    for (const [index, message] of messages.entries()) {
      await pipeline.database.db.updateTable('messages').set({provider_message_id: sids[index], status: 'sent'}).where('id', '=', message.id).execute()
    }
  }, 60_000)

  afterAll(async () => {
    await pipeline?.stop()
  })

  const callback = (sid: string, status = 'delivered'): Params => ({
    AccountSid: pipeline.accountSid,
    ApiVersion: '2010-04-01',
    From: '+15005550006',
    MessageSid: sid,
    MessageStatus: status,
    SmsSid: sid,
    SmsStatus: status,
    To: '+15551000001',
  })

  async function post(forgery: Pick<Forgery, 'params' | 'signature' | 'path'>, body = new URLSearchParams(forgery.params).toString()): Promise<number> {
    const response = await fetch(`${pipeline.serve.server.url}${forgery.path ?? '/webhooks/twilio'}`, {
      method: 'POST',
      headers: {'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': forgery.signature},
      body,
    })
    await response.arrayBuffer()
    return response.status
  }

  function forgeries(): Forgery[] {
    const list: Forgery[] = []
    const token = pipeline.authToken
    for (let index = 0; list.length < FORGERIES; index++) {
      // Half about stored SIDs (would be applied), half about unknown ones (would be kept for later).
      const sid = index % 2 === 0 ? sids[index % sids.length]! : newSid('SM')
      const genuine = callback(sid)
      switch (index % 5) {
        case 0:
          list.push({kind: 'wrong token', params: genuine, signature: computeTwilioSignature(randomBytes(16).toString('hex'), SIGNED_URL, genuine)})
          break
        case 1:
          list.push({kind: 'tampered parameter', params: {...genuine, MessageStatus: 'failed'}, signature: computeTwilioSignature(token, SIGNED_URL, genuine)})
          break
        case 2:
          list.push({kind: 'extra parameter', params: {...genuine, ErrorCode: '30003'}, signature: computeTwilioSignature(token, SIGNED_URL, genuine)})
          break
        case 3:
          list.push({kind: 'http instead of https', params: genuine, signature: computeTwilioSignature(token, SIGNED_URL.replace('https:', 'http:'), genuine)})
          break
        default:
          // A genuine callback for another URL, replayed here: to another tenant's endpoint, or with a query added.
          list.push(
            index % 2 === 0
              ? {kind: 'replayed to another URL', params: genuine, signature: computeTwilioSignature(token, 'https://other-tenant.example/webhooks/twilio', genuine)}
              : {kind: 'replayed to another URL', params: genuine, signature: computeTwilioSignature(token, SIGNED_URL, genuine), path: '/webhooks/twilio?replayed=1'},
          )
      }
    }
    return list
  }

  async function healthy(): Promise<boolean> {
    const response = await fetch(pipeline.serve.urls.health)
    await response.arrayBuffer()
    return response.status === 200
  }

  it(`${FORGERIES.toLocaleString('en')} forged callbacks: ${FORGERIES.toLocaleString('en')} rejections, no database write, no SSE event`, async () => {
    const list = forgeries()
    const before = await statusWriteCounts(pipeline.database)
    const framesBefore = pipeline.sse!.frames.length

    const statuses: Array<{kind: string; status: number}> = []
    const lanes = Array.from({length: 16}, async (_, lane) => {
      for (let at = lane; at < list.length; at += 16) statuses.push({kind: list[at]!.kind, status: await post(list[at]!)})
    })
    await Promise.all(lanes)
    // Give a wrongly accepted status time to reach SSE through the forwarder (100 ms rounds).
    await new Promise((resolve) => setTimeout(resolve, 1_000))

    expect(statuses).toHaveLength(FORGERIES)
    const notRefused = statuses.filter((entry) => entry.status !== 403)
    expect(notRefused).toEqual([])
    expect(new Set(statuses.map((entry) => entry.kind)).size).toBe(5)
    expect(await statusWriteCounts(pipeline.database)).toEqual(before)
    expect(pipeline.sse!.frames.length).toBe(framesBefore)

    // The control: the same callback signed right is applied and streamed, so the refusals above were the signatures'.
    const genuine = callback(sids[0]!)
    expect(await post({params: genuine, signature: computeTwilioSignature(pipeline.authToken, SIGNED_URL, genuine)})).toBe(200)
    const missing = await pipeline.waitForSse([{id: (await messageIdOf(sids[0]!))} as never], 'delivered', 10_000)
    expect(missing).toEqual([])
  })

  async function messageIdOf(sid: string): Promise<string> {
    const row = await pipeline.database.db.selectFrom('messages').select('id').where('provider_message_id', '=', sid).executeTakeFirstOrThrow()
    return String(row.id)
  }

  it('malformed bodies, a 1 MB body, duplicate keys and a broken request: 4xx each, nothing written, and the server keeps serving', async () => {
    const sid = sids[1]!
    const genuine = callback(sid)
    const signature = computeTwilioSignature(pipeline.authToken, SIGNED_URL, genuine)
    const before = await statusWriteCounts(pipeline.database)
    const framesBefore = pipeline.sse!.frames.length
    const form = new URLSearchParams(genuine).toString()

    const answers: Record<string, number> = {
      'bad percent escape': await post({params: genuine, signature}, `${form}&Bad=%zz`),
      'not UTF-8': await post({params: genuine, signature}, `${form}&Name=%ff%fe`),
      'no name=value shape': await post({params: genuine, signature}, `${form}&&junk`),
      'empty body': await post({params: genuine, signature}, ''),
      'duplicate key': await post({params: genuine, signature}, `${form}&MessageStatus=failed`),
      'duplicate key, same value': await post({params: genuine, signature}, `${form}&MessageStatus=delivered`),
      'missing signature': await post({params: genuine, signature: ''}),
      'a 1 MB body': await post({params: genuine, signature}, `${form}&Pad=${'a'.repeat(1024 * 1024)}`),
    }
    const wrongType = await fetch(`${pipeline.serve.server.url}/webhooks/twilio`, {method: 'POST', headers: {'content-type': 'application/json', 'x-twilio-signature': signature}, body: JSON.stringify(genuine)})
    answers['JSON instead of a form'] = wrongType.status
    await wrongType.arrayBuffer()
    answers['not HTTP at all'] = await rawRequest(pipeline.serve.server.port, 'POST /webhooks/twilio HTTP/1.1\r\nContent-Length: nope\r\n\r\n')

    for (const [name, status] of Object.entries(answers)) expect({name, status, client: status >= 400 && status < 500}).toEqual({name, status, client: true})
    expect(answers['a 1 MB body']).toBe(413)
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(await statusWriteCounts(pipeline.database)).toEqual(before)
    expect(pipeline.sse!.frames.length).toBe(framesBefore)

    // Still serving: health, and the genuine callback is applied.
    expect(await healthy()).toBe(true)
    expect(await post({params: genuine, signature})).toBe(200)
    expect(await pipeline.waitForSse([{id: await messageIdOf(sid)} as never], 'delivered', 10_000)).toEqual([])
  })
})

/** Sends raw bytes and resolves with the status code of the answer (0 when the connection closed without one). */
function rawRequest(port: number, text: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text))
    let answer = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => (answer += chunk))
    socket.on('error', reject)
    socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0)))
    socket.setTimeout(5_000, () => socket.destroy())
  })
}
