/**
 * The HTTP work of the send pipeline with no queue and no database, for
 * bench/pipeline's floor rows: per message, the provider call the
 * SendCampaignMessage handler makes (Twilio's messages.create against the
 * sandbox, through the real SDK or as the same bare HTTP request) and the
 * sandbox's signed status callbacks (queued, sent, delivered for an SMS
 * through a messaging service) delivered to a bare node:http server that
 * answers 200 and reads nothing but the status. Same process layout as the
 * pipeline: sandbox, callback receiver and sender in this process; as many
 * calls in flight as the pipeline has (lanes × records per batch at once).
 */
import {createServer, request, Agent, type IncomingMessage} from 'node:http'
import {createTwilioClient, preloadTwilio} from '../../src/providers/twilio/twilio-client.js'
import {TwilioSmsProvider} from '../../src/providers/twilio/twilio-message-provider.js'
import {listenOn} from '../../src/net/listen.js'
import {defaultSeed, startTwilioSandbox} from '../../src/twilio-sandbox/index.js'
import {startClock} from './clock.js'
import {phoneNumbers} from '../../test/support/pipeline-fixtures.js'

export type FloorClient = 'sdk' | 'http'

export interface FloorResult {
  messages: number
  seconds: number
  cpuSeconds: number
  loopBusy: number
  callbacks: number
}

/** Sends `messages` SMS through the sandbox with `inFlight` calls at once and waits for every `delivered` callback. */
export async function httpFloorRun(options: {messages: number; inFlight: number; client: FloorClient; offset: number}): Promise<FloorResult> {
  const seed = defaultSeed()
  const account = seed.accounts[0]!
  const serviceSid = seed.services![0]!.sid
  const sandbox = await startTwilioSandbox({seed})
  let callbacks = 0
  let delivered = 0
  let target = Number.POSITIVE_INFINITY
  let allDelivered: () => void = () => {}
  const receiver = createServer((incoming: IncomingMessage, response) => {
    const chunks: Buffer[] = []
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk))
    incoming.on('end', () => {
      callbacks++
      if (new URLSearchParams(Buffer.concat(chunks).toString()).get('MessageStatus') === 'delivered' && ++delivered === target) allDelivered()
      response.writeHead(200, {'Content-Type': 'text/plain'}).end('ok')
    })
  })
  const port = await listenOn(receiver, 0, '127.0.0.1')
  const statusCallback = `http://127.0.0.1:${port}/webhooks/twilio`
  try {
    const send = await senderOf(options.client, {sandboxUrl: sandbox.url, accountSid: account.sid, authToken: account.authToken, serviceSid, statusCallback})
    await runSends(send, phoneNumbers(20, options.offset), options.inFlight)
    await waitFor(() => delivered >= 20)
    callbacks = 0
    delivered = 0

    const numbers = phoneNumbers(options.messages, options.offset + 20)
    const done = new Promise<void>((resolve) => (allDelivered = resolve))
    target = numbers.length
    const clock = startClock()
    await runSends(send, numbers, options.inFlight)
    await done
    return {messages: numbers.length, ...clock.elapsed(), callbacks}
  } finally {
    await sandbox.stop()
    receiver.closeAllConnections()
    await new Promise((resolve) => receiver.close(resolve))
  }
}

interface Target {
  sandboxUrl: string
  accountSid: string
  authToken: string
  serviceSid: string
  statusCallback: string
}

/** One send function: the provider the handler builds (SDK), or the same POST on a keep-alive agent. */
async function senderOf(client: FloorClient, target: Target): Promise<(to: string) => Promise<unknown>> {
  if (client === 'sdk') {
    await preloadTwilio()
    const twilio = createTwilioClient({accountSid: target.accountSid, authToken: target.authToken, baseUrl: target.sandboxUrl})
    const provider = new TwilioSmsProvider(twilio, {messagingServiceSid: target.serviceSid, sender: null, statusCallback: target.statusCallback, verified: true})
    return (to) => provider.send({to, body: 'floor message'})
  }
  const agent = new Agent({keepAlive: true})
  const url = new URL(`/2010-04-01/Accounts/${target.accountSid}/Messages.json`, target.sandboxUrl)
  const authorization = `Basic ${Buffer.from(`${target.accountSid}:${target.authToken}`).toString('base64')}`
  return (to) =>
    new Promise((resolve, reject) => {
      const body = new URLSearchParams({To: to, Body: 'floor message', MessagingServiceSid: target.serviceSid, StatusCallback: target.statusCallback}).toString()
      const outgoing = request(url, {method: 'POST', agent, headers: {Authorization: authorization, 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': Buffer.byteLength(body), 'X-Forwarded-Host': 'api.twilio.com'}}, (response) => {
        const chunks: Buffer[] = []
        response.on('data', (chunk: Buffer) => chunks.push(chunk))
        response.on('end', () => (response.statusCode === 201 ? resolve(JSON.parse(Buffer.concat(chunks).toString())) : reject(new Error(`create answered ${response.statusCode}`))))
      })
      outgoing.on('error', reject)
      outgoing.end(body)
    })
}

async function runSends(send: (to: string) => Promise<unknown>, numbers: string[], inFlight: number): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({length: inFlight}, async () => {
      while (next < numbers.length) await send(numbers[next++]!)
    }),
  )
}

async function waitFor(condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('the floor run timed out waiting for callbacks')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
