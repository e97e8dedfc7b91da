import {spawn} from 'node:child_process'
import {once} from 'node:events'
import {SQSClient} from '@aws-sdk/client-sqs'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {GLOBAL_SCOPE, rollBackUseAwsQueue, setUseAwsQueue} from '../../src/cutover/flags.js'
import type {Keyring} from '../../src/crypto/encryption-key.js'
import type {Database} from '../../src/db/database.js'
import {LocalQueue} from '../../src/queue/local/local-queue.js'
import {ensureQueues, messagesQueueDefinition} from '../../src/queue/sqs/queue-definitions.js'
import {SqsQueue} from '../../src/queue/sqs/sqs-queue.js'
import {startTwilioSandbox, type TwilioSandbox} from '../../src/twilio-sandbox/index.js'
import {DIALECTS, type TestDatabase} from '../support/databases.js'
import {startFauxqs, type FauxqsServer} from '../support/fauxqs.js'
import {
  createCampaign,
  createContacts,
  createQueuedMessages,
  enqueueSendJobs,
  phoneNumbers,
  seedTwilioTenant,
  startCallbackSink,
  testKeyring,
  type CallbackSink,
} from '../support/pipeline-fixtures.js'
import {CLI_ARGV, PROJECT_ROOT, runCli} from '../support/run-cli.js'
import {migratedDatabase, parseJson, twilioSeed} from '../support/seed-fixtures.js'

describe.each(DIALECTS)('cutover paths: campaign send per tenant, worker hand-over, rollback --move-inflight (%s)', (dialect) => {
  let testDb: TestDatabase
  let database: Database
  let sandbox: TwilioSandbox
  let sink: CallbackSink
  let fauxqs: FauxqsServer
  let sqsClient: SQSClient
  let keyring: Keyring
  let keyHex: string
  let twilio: ReturnType<typeof twilioSeed>
  let offset = 0

  beforeAll(async () => {
    twilio = twilioSeed()
    ;[testDb, sandbox, sink, fauxqs] = await Promise.all([migratedDatabase(dialect), startTwilioSandbox({seed: twilio.seed}), startCallbackSink(), startFauxqs()])
    database = await testDb.open()
    sqsClient = new SQSClient(fauxqs.clientConfig)
    ;({keyring, hex: keyHex} = testKeyring())
  })
  afterAll(async () => {
    sqsClient?.destroy()
    await Promise.allSettled([sandbox?.stop(), sink?.stop(), fauxqs?.stop()])
    await testDb?.dispose()
  })

  const seedTenant = (slug: string) =>
    seedTwilioTenant(database, keyring, {
      slug,
      accountSid: twilio.accountSid,
      authToken: twilio.authToken,
      messagingServiceSid: twilio.serviceSid,
      twilioBaseUrl: sandbox.url,
      webhookUrl: sink.url,
    })
  const newQueues = () => ensureQueues(sqsClient, messagesQueueDefinition(`cut-${dialect}-${++offset}`))
  const sqsEnv = (queueUrl: string) => ({SQS_QUEUE_URL: queueUrl, SQS_ENDPOINT: fauxqs.endpoint, AWS_REGION: fauxqs.region})
  const baseEnv = () => ({ENCRYPTION_KEY: keyHex, TWILIO_API_BASE_URL: sandbox.url, ENGAGE_OPERATOR: 'ops-test'})
  const cli = (args: string[], env: Record<string, string> = {}) => runCli([...args, '--database-url', testDb.url], {env: {...baseEnv(), ...env}})
  const acceptedFor = async (recipients: string[]) => {
    const counters = await sandbox.counters()
    return recipients.map((to) => counters.byRecipient.filter((entry) => entry.to === to).reduce((sum, entry) => sum + entry.accepted, 0))
  }
  const campaignOf = async (tenantId: string, count: number) => {
    const recipients = phoneNumbers(count, (offset += 1000) * 10)
    await createContacts(database, tenantId, recipients.map((phone) => ({phone})))
    const campaign = await createCampaign(database, {tenantId, channel: 'sms', body: 'Cutover'})
    return {campaign, recipients}
  }

  it('campaign send follows the flag per tenant: the tenant switched on queues on SQS (fauxqs), the other on the local queue', async () => {
    const [pilotId, otherId] = [await seedTenant(`pilot-${dialect}`), await seedTenant(`other-${dialect}`)]
    const queues = await newQueues()
    await setUseAwsQueue(database, pilotId, true, {reason: 'pilot tenant', actor: 'tester'})
    const pilot = await campaignOf(pilotId, 12)
    const other = await campaignOf(otherId, 7)
    const localBefore = (await new LocalQueue({database}).depth()).visible

    const [pilotSend, otherSend] = await Promise.all([
      cli(['campaign', 'send', '--tenant', `pilot-${dialect}`, '--campaign', pilot.campaign.id, '--json'], sqsEnv(queues.queueUrl)),
      cli(['campaign', 'send', '--tenant', `other-${dialect}`, '--campaign', other.campaign.id, '--json'], sqsEnv(queues.queueUrl)),
    ])

    expect(pilotSend.code, pilotSend.stderr).toBe(0)
    expect(otherSend.code, otherSend.stderr).toBe(0)
    expect(parseJson(pilotSend)).toMatchObject({queue: 'sqs', enqueued: 12})
    expect(parseJson(otherSend)).toMatchObject({queue: 'local', enqueued: 7})
    expect((await new SqsQueue({client: sqsClient, queueUrl: queues.queueUrl}).depth()).visible).toBe(12)
    expect((await new LocalQueue({database}).depth()).visible - localBefore).toBe(7)

    // Drain both so later tests start from empty queues: the local one by the worker, SQS by moving it back (rollback).
    await rollBackUseAwsQueue(database, {reason: 'test cleanup', actor: 'tester'})
    const moved = await cli(['cutover', '--rollback', '--move-inflight', '--json'], sqsEnv(queues.queueUrl))
    expect(parseJson(moved)).toMatchObject({sqs: {moved: 12}})
    const drained = await cli(['worker', '--drain', '--json'])
    expect(parseJson(drained)).toMatchObject({received: 19 + localBefore})
    expect(await acceptedFor([...pilot.recipients, ...other.recipients])).toEqual(Array(19).fill(1))
  })

  it('worker hand-over: flipped on for every tenant while processing, it finishes what it holds and drains the local queue, then reports', async () => {
    const tenantId = await seedTenant(`handover-${dialect}`)
    const {campaign, recipients} = await campaignOf(tenantId, 80)
    const contacts = await database.db.selectFrom('contacts').select(['id', 'tenant_id', 'phone', 'email']).where('tenant_id', '=', tenantId).execute()
    const messages = await createQueuedMessages(database, campaign, contacts as never)
    await enqueueSendJobs(new LocalQueue({database}), messages)
    // Slow provider answers keep the worker busy when the flag flips.
    await sandbox.configure({latencyMs: 250})
    const child = spawn(process.execPath, [...CLI_ARGV, 'worker', '--database-url', testDb.url], {
      cwd: PROJECT_ROOT,
      env: {PATH: process.env.PATH, HOME: process.env.HOME, ...baseEnv()} as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const exit = once(child, 'exit')
    try {
      const sentCount = async () =>
        Number((await database.db.selectFrom('messages').select((eb) => eb.fn.countAll().as('n')).where('campaign_id', '=', campaign.id).where('provider_message_id', 'is not', null).executeTakeFirst())?.n ?? 0)
      await waitFor(async () => (await sentCount()) >= 3, 90_000, () => `worker sent nothing: ${stderr}`)

      await setUseAwsQueue(database, GLOBAL_SCOPE, true, {reason: 'all tenants to AWS', actor: 'tester'})

      await waitFor(async () => stderr.includes('handed over:'), 120_000, () => `no hand-over report: ${stderr}`)
      expect(stderr).toMatch(/Handing over: finishing \d+ in flight here; \d+ left in the local queue will be drained by this worker/)
      expect(await sentCount()).toBe(80)
    } finally {
      child.kill('SIGTERM')
      await exit
      await sandbox.configure({latencyMs: 0})
      await rollBackUseAwsQueue(database, {reason: 'test cleanup', actor: 'tester'})
    }
    const reported = /handed over: (\d+) in flight finished, (\d+) left in the local queue → drained by this worker \((\d+) finished since the flip\)/.exec(stderr)
    expect(reported, stderr).not.toBeNull()
    const [inFlight, queued, finished] = reported!.slice(1).map(Number) as [number, number, number]
    expect(finished).toBe(inFlight + queued)
    expect(queued).toBeGreaterThan(0)
    expect(stdout).toMatch(/^Stopped \(signal\): \d+ received, \d+ done, \d+ to retry, \d+ deleted\.\nHanded over: \d+ in flight and \d+ queued locally at the flip; \d+ finished since\.\n$/)
    expect(await acceptedFor(recipients)).toEqual(Array(80).fill(1))
    expect(await new LocalQueue({database}).depth()).toMatchObject({visible: 0, inFlight: 0})
  })

  it('rollback --move-inflight against fauxqs: the flag off with an audit entry, visible SQS messages moved to the local queue, then each sent once', async () => {
    const tenantId = await seedTenant(`rollback-${dialect}`)
    const queues = await newQueues()
    const sqs = new SqsQueue({client: sqsClient, queueUrl: queues.queueUrl})
    await setUseAwsQueue(database, GLOBAL_SCOPE, true, {reason: 'cutover', actor: 'tester'})
    await setUseAwsQueue(database, tenantId, true, {reason: 'pilot', actor: 'tester'})
    const {campaign, recipients} = await campaignOf(tenantId, 25)
    const sent = await cli(['campaign', 'send', '--tenant', `rollback-${dialect}`, '--campaign', campaign.id, '--json'], sqsEnv(queues.queueUrl))
    expect(parseJson(sent)).toMatchObject({queue: 'sqs', enqueued: 25})
    // One message held by a consumer (the Lambda) right now: a rollback leaves it to its holder.
    const held = await sqs.receive({max: 1, visibilityTimeoutSeconds: 600})
    expect(held).toHaveLength(1)

    const rollback = await cli(['cutover', '--rollback', '--move-inflight', '--reason', 'Lambda throttled', '--json'], sqsEnv(queues.queueUrl))

    expect(rollback.code, rollback.stderr).toBe(0)
    const report = parseJson<{flag: Array<Record<string, unknown>>; sqs: Record<string, unknown>}>(rollback)
    expect(report.flag).toEqual([
      {scope: GLOBAL_SCOPE, oldValue: 'true', newValue: 'false', changed: true},
      {scope: tenantId, oldValue: 'true', newValue: null, changed: true},
    ])
    expect(report.sqs).toMatchObject({depthBefore: {visible: 24, inFlight: 1}, moved: 24, refused: 0, depthAfter: {visible: 0, inFlight: 1}})
    const audit = await database.db.selectFrom('feature_flag_audit').selectAll().orderBy('id', 'desc').limit(2).execute()
    expect(audit.map((row) => [row.scope, row.new_value, row.reason, row.changed_by])).toEqual(
      expect.arrayContaining([
        [GLOBAL_SCOPE, 'false', 'Lambda throttled', 'ops-test'],
        [tenantId, null, 'Lambda throttled', 'ops-test'],
      ]),
    )

    const human = await cli(['cutover', '--rollback'], sqsEnv(queues.queueUrl))
    expect(human.stdout).toContain('global was already off')
    expect(human.stdout).toContain('0 visible, 1 in flight')

    const worker = await cli(['worker', '--drain', '--json'])
    expect(worker.code, worker.stderr).toBe(0)
    expect(parseJson(worker)).toMatchObject({received: 24, succeeded: 24})
    // The held one is delivered by SQS again after the Lambda's timeout; here we act as that consumer, and it sends once.
    const {createSendCampaignMessageProcessor} = await import('../../src/pipeline/send/index.js')
    const {toSqsEventRecord} = await import('../../src/queue/message-queue.js')
    const outcome = await createSendCampaignMessageProcessor({database, keyring, get: (name) => (name === 'TWILIO_API_BASE_URL' ? sandbox.url : undefined)})({
      Records: held.map((message) => toSqsEventRecord(message, {queueArn: queues.queueArn, awsRegion: fauxqs.region})),
    })
    expect(outcome.batchItemFailures).toEqual([])
    await sqs.delete(held.map((message) => message.receiptHandle))
    expect(await acceptedFor(recipients)).toEqual(Array(25).fill(1))
    expect(await sqs.depth()).toMatchObject({visible: 0, inFlight: 0})
  })
})

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, describeFailure: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(describeFailure())
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
