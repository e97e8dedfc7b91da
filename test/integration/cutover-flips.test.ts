import {SQSClient} from '@aws-sdk/client-sqs'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {HandoverWatcher} from '../../src/cutover/handover.js'
import {GLOBAL_SCOPE, setUseAwsQueue} from '../../src/cutover/flags.js'
import type {Database} from '../../src/db/database.js'
import {createSendCampaignMessageProcessor} from '../../src/pipeline/send/index.js'
import {LocalQueue} from '../../src/queue/local/local-queue.js'
import {openMessageQueueForTenant} from '../../src/queue/select-queue.js'
import {ensureQueues, messagesQueueDefinition} from '../../src/queue/sqs/queue-definitions.js'
import {SqsQueue} from '../../src/queue/sqs/sqs-queue.js'
import {startTwilioSandbox, type TwilioSandbox} from '../../src/twilio-sandbox/index.js'
import {runWorker} from '../../src/worker/worker-loop.js'
import {DIALECTS, type TestDatabase} from '../support/databases.js'
import {startFauxqs, type FauxqsServer} from '../support/fauxqs.js'
import {
  createCampaign,
  createContacts,
  createQueuedMessages,
  enqueueSendJobs,
  LOCAL_SOURCE,
  phoneNumbers,
  seedSandboxTenant,
  startCallbackSink,
  testKeyring,
  type CallbackSink,
} from '../support/pipeline-fixtures.js'
import {migratedDatabase, twilioSeed} from '../support/seed-fixtures.js'

const MESSAGES = 2000
const CHUNK = 200

describe.each(DIALECTS)('USE_AWS_QUEUE flipped twice in the middle of a 2,000-message campaign (%s)', (dialect) => {
  let testDb: TestDatabase
  let database: Database
  let sandbox: TwilioSandbox
  let sink: CallbackSink
  let fauxqs: FauxqsServer
  let sqsClient: SQSClient

  beforeAll(async () => {
    const twilio = twilioSeed()
    ;[testDb, sandbox, sink, fauxqs] = await Promise.all([migratedDatabase(dialect), startTwilioSandbox({seed: twilio.seed}), startCallbackSink(), startFauxqs()])
    database = await testDb.open()
    sqsClient = new SQSClient(fauxqs.clientConfig)
    const {keyring} = testKeyring()
    tenantKeyring = keyring
    tenantId = await seedSandboxTenant(database, keyring, twilio, {twilioBaseUrl: sandbox.url, webhookUrl: sink.url})
  })
  let tenantId: string
  let tenantKeyring: ReturnType<typeof testKeyring>['keyring']
  afterAll(async () => {
    sqsClient?.destroy()
    await Promise.allSettled([sandbox?.stop(), sink?.stop(), fauxqs?.stop()])
    await testDb?.dispose()
  }, 60_000)

  it('sent in chunks while the local worker and an SQS consumer run: every message sent exactly once, nothing left queued', async () => {
    const queues = await ensureQueues(sqsClient, messagesQueueDefinition(`flips-${dialect}`))
    const settings = {get: (name: string) => ({SQS_QUEUE_URL: queues.queueUrl, SQS_ENDPOINT: fauxqs.endpoint, AWS_REGION: fauxqs.region})[name]}
    const recipients = phoneNumbers(MESSAGES)
    const campaign = await createCampaign(database, {tenantId, channel: 'sms', body: 'Flip, flip'})
    const messages = await createQueuedMessages(database, campaign, await createContacts(database, tenantId, recipients.map((phone) => ({phone}))))
    const handler = createSendCampaignMessageProcessor({database, keyring: tenantKeyring, get: (name) => (name === 'TWILIO_API_BASE_URL' ? sandbox.url : undefined)})

    // The local worker (following the flag) and a loop standing in for the Lambda's SQS event source mapping.
    const local = new LocalQueue({database})
    const sqs = new SqsQueue({client: sqsClient, queueUrl: queues.queueUrl})
    const watcher = new HandoverWatcher({database, queue: local, refreshMs: 200})
    await watcher.start()
    const stop = new AbortController()
    const consumers = Promise.all([
      runWorker({queue: watcher.wrap(), source: LOCAL_SOURCE, handler, concurrency: 3, signal: stop.signal, waitSeconds: 0.2}),
      runWorker({queue: sqs, source: {queueArn: queues.queueArn, awsRegion: fauxqs.region}, handler, concurrency: 3, signal: stop.signal, waitSeconds: 1}),
    ])

    const routed = {local: 0, sqs: 0}
    const phases: string[] = []
    try {
      for (let start = 0, chunk = 0; start < MESSAGES; start += CHUNK, chunk++) {
        if (chunk === 3) await setUseAwsQueue(database, GLOBAL_SCOPE, true, {reason: 'cutover', actor: 'test'})
        if (chunk === 7) await setUseAwsQueue(database, GLOBAL_SCOPE, false, {reason: 'roll back mid-campaign', actor: 'test'})
        // Each chunk is queued where the flag points at that moment, as `campaign send` opens its queue.
        const opened = await openMessageQueueForTenant(database, settings, tenantId)
        await enqueueSendJobs(opened.queue, messages.slice(start, start + CHUNK))
        routed[opened.kind] += Math.min(CHUNK, MESSAGES - start)
        await watcher.refresh()
        phases.push(watcher.summary().phase)
      }
      await waitFor(async () => (await sentCount(database, campaign.id)) === MESSAGES, 600_000, async () => `only ${await sentCount(database, campaign.id)} of ${MESSAGES} sent`)
    } finally {
      stop.abort()
      await consumers
      watcher.stop()
    }

    expect(routed).toEqual({local: 1200, sqs: 800})
    // The worker saw the flip to AWS and back.
    expect(phases.slice(0, 3).every((phase) => phase === 'local')).toBe(true)
    expect(phases.slice(3, 7).some((phase) => phase !== 'local')).toBe(true)
    expect(phases.slice(7).every((phase) => phase === 'local')).toBe(true)
    const counters = await sandbox.counters()
    const accepted = new Map<string, number>()
    for (const entry of counters.byRecipient) accepted.set(entry.to, (accepted.get(entry.to) ?? 0) + entry.accepted)
    expect(recipients.filter((to) => accepted.get(to) !== 1)).toEqual([])
    expect(counters.accepted).toBe(MESSAGES)
    expect(await local.depth()).toMatchObject({visible: 0, inFlight: 0, delayed: 0, deadLetter: 0})
    expect(await sqs.depth()).toMatchObject({visible: 0, inFlight: 0, delayed: 0})
  }, 900_000)
})

async function sentCount(database: Database, campaignId: string): Promise<number> {
  const row = await database.db
    .selectFrom('messages')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('campaign_id', '=', campaignId)
    .where('provider_message_id', 'is not', null)
    .executeTakeFirst()
  return Number(row?.n ?? 0)
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, describeFailure: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(await describeFailure())
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}
