/**
 * The HTTP work of the send pipeline with no queue and no database, for
 * bench/pipeline's floor rows: per message, the provider call the
 * SendCampaignMessage handler makes (Twilio's messages.create against the
 * sandbox, through the real SDK or as the same bare HTTP request) and the
 * sandbox's signed status callbacks (queued, sent, delivered for an SMS
 * through a messaging service) delivered to a bare node:http server that
 * answers 200 and reads nothing but the status (bare-receiver.ts). Same
 * process layout as the pipeline rows it is compared with: the sender in this
 * process, where the worker runs; the sandbox here or in a child; the
 * receiver where serve would be. As many calls in flight as the pipeline has
 * (lanes × records per batch at once).
 */
import {request, Agent} from 'node:http'
import {createTwilioClient, preloadTwilio} from '../../src/providers/twilio/twilio-client.js'
import {TwilioSmsProvider} from '../../src/providers/twilio/twilio-message-provider.js'
import {defaultSeed, startTwilioSandbox} from '../../src/twilio-sandbox/index.js'
import {startBareReceiver, startBareReceiverProcess, type BareReceiver} from './bare-receiver.js'
import {startSandboxProcess, type ChildProcessHandle, type ProcessLayout} from './child-processes.js'
import {startClock, type Elapsed} from './clock.js'
import {phoneNumbers} from '../../test/support/pipeline-fixtures.js'

export type FloorClient = 'sdk' | 'http'

export interface FloorResult extends Elapsed {
  messages: number
  callbacks: number
}

/** Sends `messages` SMS through the sandbox with `inFlight` calls at once and waits for every `delivered` callback. */
export async function httpFloorRun(options: {messages: number; inFlight: number; client: FloorClient; offset: number; layout: ProcessLayout}): Promise<FloorResult> {
  const seed = defaultSeed()
  const account = seed.accounts[0]!
  const serviceSid = seed.services![0]!.sid
  const [sandbox, receiver] = await Promise.all([
    options.layout === 'single' ? startTwilioSandbox({seed}) : startSandboxProcess(seed),
    options.layout === 'all-apart' ? startBareReceiverProcess() : startBareReceiver(),
  ])
  const children = [sandbox, receiver].filter((part): part is typeof part & ChildProcessHandle => 'pid' in part)
  const statusCallback = `http://127.0.0.1:${receiver.port}/webhooks/twilio`
  try {
    const send = await senderOf(options.client, {sandboxUrl: sandbox.url, accountSid: account.sid, authToken: account.authToken, serviceSid, statusCallback})
    await deliverAll(receiver, send, phoneNumbers(20, options.offset), options.inFlight)

    const numbers = phoneNumbers(options.messages, options.offset + 20)
    const clock = startClock(children)
    const {callbacks} = await deliverAll(receiver, send, numbers, options.inFlight)
    return {messages: numbers.length, ...clock.elapsed(), callbacks}
  } finally {
    await Promise.all([sandbox.stop(), receiver.close()])
  }
}

/** Sends to every number and waits until the receiver has each one's `delivered` callback. */
async function deliverAll(receiver: BareReceiver, send: (to: string) => Promise<unknown>, numbers: string[], inFlight: number): Promise<{callbacks: number}> {
  const {delivered} = await receiver.expect(numbers.length)
  await runSends(send, numbers, inFlight)
  return withTimeout(delivered, 120_000)
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

async function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('the floor run timed out waiting for callbacks')), timeoutMs)))
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}
