import {SQSClient} from '@aws-sdk/client-sqs'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Keyring} from '../../src/crypto/encryption-key.js'
import type {Database} from '../../src/db/database.js'
import {createSendCampaignMessageProcessor} from '../../src/pipeline/send/index.js'
import {LocalQueue} from '../../src/queue/local/local-queue.js'
import {ensureQueues, messagesQueueDefinition, type EnsuredQueues} from '../../src/queue/sqs/queue-definitions.js'
import {SqsQueue} from '../../src/queue/sqs/sqs-queue.js'
import {startTwilioSandbox, type TwilioSandbox} from '../../src/twilio-sandbox/index.js'
import {DIALECTS, type TestDatabase} from '../support/databases.js'
import {startFauxqs, type FauxqsServer} from '../support/fauxqs.js'
import {
  createCampaign,
  createContacts,
  createQueuedMessages,
  drainQueue,
  enqueueSendJobs,
  phoneNumbers,
  seedSandboxTenant,
  startCallbackSink,
  testKeyring,
  type CallbackSink,
  type MessageRow,
} from '../support/pipeline-fixtures.js'
import {runCli} from '../support/run-cli.js'
import {migratedDatabase, parseJson, twilioSeed} from '../support/seed-fixtures.js'

interface QueueReport {
  queue: string
  considered: number
  redriven: number
  alreadySent: number
  left: number
  failed: number
}

describe.each(DIALECTS)('engage dlq list / redrive (%s)', (dialect) => {
  let testDb: TestDatabase
  let database: Database
  let sandbox: TwilioSandbox
  let sink: CallbackSink
  let fauxqs: FauxqsServer
  let sqsClient: SQSClient
  let keyring: Keyring
  let keyHex: string
  let tenantId: string
  let offset = 0

  beforeAll(async () => {
    const twilio = twilioSeed()
    ;[testDb, sandbox, sink, fauxqs] = await Promise.all([migratedDatabase(dialect), startTwilioSandbox({seed: twilio.seed}), startCallbackSink(), startFauxqs()])
    database = await testDb.open()
    sqsClient = new SQSClient(fauxqs.clientConfig)
    ;({keyring, hex: keyHex} = testKeyring())
    tenantId = await seedSandboxTenant(database, keyring, twilio, {twilioBaseUrl: sandbox.url, webhookUrl: sink.url})
  })
  afterAll(async () => {
    sqsClient?.destroy()
    await Promise.allSettled([sandbox?.stop(), sink?.stop(), fauxqs?.stop()])
    await testDb?.dispose()
  })

  const processor = () => createSendCampaignMessageProcessor({database, keyring, get: (name) => (name === 'TWILIO_API_BASE_URL' ? sandbox.url : undefined)})
  const cli = (args: string[], env: Record<string, string> = {}) => runCli([...args, '--database-url', testDb.url], {env: {ENCRYPTION_KEY: keyHex, ...env}})

  /** 100 queued messages of a new campaign, the first 30 of them sent through the sandbox. */
  const hundredWithThirtySent = async (): Promise<{messages: MessageRow[]; recipients: string[]}> => {
    const recipients = phoneNumbers(100, (offset += 1000))
    const campaign = await createCampaign(database, {tenantId, channel: 'sms', body: 'Dead letters, revived'})
    const messages = await createQueuedMessages(database, campaign, await createContacts(database, tenantId, recipients.map((phone) => ({phone}))))
    const scratch = new LocalQueue({database, queueName: `scratch-${offset}`})
    await enqueueSendJobs(scratch, messages.slice(0, 30))
    await drainQueue(scratch, processor())
    const sent = await database.db.selectFrom('messages').select('id').where('campaign_id', '=', campaign.id).where('provider_message_id', 'is not', null).execute()
    expect(sent).toHaveLength(30)
    return {messages, recipients}
  }

  /** Accepted creates per recipient, from the sandbox's own counters. */
  const acceptedFor = async (recipients: string[]): Promise<number[]> => {
    const counters = await sandbox.counters()
    return recipients.map((to) => counters.byRecipient.filter((entry) => entry.to === to).reduce((sum, entry) => sum + entry.accepted, 0))
  }

  it('local dead-letter table: 100 dead letters, 30 already sent → dry run changes nothing; redrive queues 70; the worker then sends 70, each once', async () => {
    const {messages, recipients} = await hundredWithThirtySent()
    // Dead-letter all 100 jobs the way the queue does it: a receive past maxReceiveCount.
    const strict = new LocalQueue({database, maxReceiveCount: 1})
    await enqueueSendJobs(strict, messages)
    for (let rounds = 0; rounds < 100; rounds++) {
      if ((await strict.receive({max: 10, visibilityTimeoutSeconds: 0})).length === 0 && (await strict.depth()).visible === 0) break
    }
    expect(await strict.depth()).toMatchObject({visible: 0, inFlight: 0, deadLetter: 100})
    expect(await acceptedFor(recipients)).toEqual([...Array(30).fill(1), ...Array(70).fill(0)])

    const listed = await cli(['dlq', 'list', '--queue', 'local', '--tenant', 'acme', '--json'])
    expect(listed.code, listed.stderr).toBe(0)
    const deadLetters = parseJson<{deadLetters: Array<Record<string, unknown>>}>(listed).deadLetters
    expect(deadLetters).toHaveLength(100)
    expect(new Set(deadLetters.map((entry) => entry.messageId))).toEqual(new Set(messages.map((message) => message.id)))
    expect(deadLetters[0]).toMatchObject({queue: 'local', tenantId, campaignId: messages[0]!.campaign_id, reason: 'maxReceiveCount'})
    expect(deadLetters.every((entry) => (entry.receiveCount as number) >= 1 && typeof entry.ageSeconds === 'number')).toBe(true)

    const dryRun = await cli(['dlq', 'redrive', '--queue', 'local', '--dry-run', '--json'])
    expect(dryRun.code, dryRun.stderr).toBe(0)
    expect(parseJson<{queues: QueueReport[]}>(dryRun).queues).toEqual([expect.objectContaining({queue: 'local', considered: 100, redriven: 70, alreadySent: 30, left: 0})])
    expect(await strict.depth()).toMatchObject({visible: 0, deadLetter: 100})

    const redriven = await cli(['dlq', 'redrive', '--queue', 'local', '--rate', '500', '--json'])
    expect(redriven.code, redriven.stderr).toBe(0)
    expect(parseJson<{queues: QueueReport[]}>(redriven).queues).toEqual([expect.objectContaining({queue: 'local', considered: 100, redriven: 70, alreadySent: 30, left: 0, failed: 0})])
    expect(await strict.depth()).toMatchObject({visible: 70, deadLetter: 0})

    const worker = await cli(['worker', '--drain', '--json'], {TWILIO_API_BASE_URL: sandbox.url})
    expect(worker.code, worker.stderr).toBe(0)
    expect(parseJson(worker)).toMatchObject({received: 70, succeeded: 70})
    expect(await acceptedFor(recipients)).toEqual(Array(100).fill(1))
    expect(await new LocalQueue({database}).depth()).toMatchObject({visible: 0, inFlight: 0, deadLetter: 0})
  })

  it('SQS dead-letter queue on fauxqs: 100 dead letters, 30 already sent → 70 back on the main queue, then 70 sends; the DLQ empty', async () => {
    const {messages, recipients} = await hundredWithThirtySent()
    const queues: EnsuredQueues = await ensureQueues(sqsClient, messagesQueueDefinition(`dlq-${dialect}-${offset}`))
    const dlq = new SqsQueue({client: sqsClient, queueUrl: queues.dlqUrl})
    const main = new SqsQueue({client: sqsClient, queueUrl: queues.queueUrl})
    await enqueueSendJobs(dlq, messages)
    const env = {SQS_QUEUE_URL: queues.queueUrl, SQS_DLQ_URL: queues.dlqUrl, SQS_ENDPOINT: fauxqs.endpoint, AWS_REGION: fauxqs.region}

    const listed = await cli(['dlq', 'list', '--queue', 'sqs', '--json'], env)
    expect(listed.code, listed.stderr).toBe(0)
    const deadLetters = parseJson<{deadLetters: Array<Record<string, unknown>>}>(listed).deadLetters
    expect(new Set(deadLetters.map((entry) => entry.messageId))).toEqual(new Set(messages.map((message) => message.id)))
    expect(deadLetters[0]).toMatchObject({queue: 'sqs', tenantId, campaignId: messages[0]!.campaign_id})
    // Listing released what it read.
    expect((await dlq.depth()).visible).toBe(100)

    const redriven = await cli(['dlq', 'redrive', '--queue', 'sqs', '--json'], env)
    expect(redriven.code, redriven.stderr).toBe(0)
    expect(parseJson<{queues: QueueReport[]}>(redriven).queues).toEqual([expect.objectContaining({queue: 'sqs', considered: 100, redriven: 70, alreadySent: 30, left: 0, failed: 0})])
    expect(await dlq.depth()).toMatchObject({visible: 0, inFlight: 0})
    expect((await main.depth()).visible).toBe(70)

    // The SendCampaignMessage processor over the main queue, as the Lambda's event source mapping drives it.
    await drainQueue(main, processor())
    expect(await acceptedFor(recipients)).toEqual(Array(100).fill(1))
    expect(await main.depth()).toMatchObject({visible: 0, inFlight: 0})
  })

  it('--tenant keeps to that tenant; jobs that are not send jobs are left in place; bad input is refused with nothing changed', async () => {
    const strict = new LocalQueue({database, maxReceiveCount: 1})
    await strict.enqueue([{id: 'junk', body: 'not a send job'}])
    for (let rounds = 0; rounds < 5 && (await strict.depth()).visible > 0; rounds++) await strict.receive({max: 10, visibilityTimeoutSeconds: 0})
    expect((await strict.depth()).deadLetter).toBe(1)

    const [junk, unknownTenant, noDlqUrl, badRate] = await Promise.all([
      cli(['dlq', 'redrive', '--queue', 'local', '--json']),
      cli(['dlq', 'redrive', '--tenant', 'nope']),
      cli(['dlq', 'list', '--queue', 'sqs']),
      cli(['dlq', 'redrive', '--rate', '0']),
    ])

    expect(junk.code, junk.stderr).toBe(0)
    const report = parseJson<{queues: QueueReport[]; items: Array<Record<string, unknown>>}>(junk)
    expect(report.queues).toEqual([expect.objectContaining({considered: 1, redriven: 0, alreadySent: 0, left: 1})])
    expect(report.items[0]).toMatchObject({action: 'left', detail: expect.stringContaining('not a send job')})
    expect(unknownTenant.code).toBe(7)
    expect(unknownTenant.stderr).toContain('No tenant with slug or id "nope"')
    expect(noDlqUrl.code).toBe(2)
    expect(noDlqUrl.stderr).toContain('SQS_DLQ_URL')
    expect(badRate.code).toBe(2)
    expect(await strict.depth()).toMatchObject({visible: 0, deadLetter: 1})
  })
})
