/**
 * The whole send pipeline wired in one process from its real parts, for the
 * end-to-end tests and bench/pipeline.ts: a migrated database (SQLite file or
 * a fresh PostgreSQL database), the Twilio sandbox over HTTP, `engage serve`
 * (startServeApp with the Twilio webhook mounted and the forwarder posting to
 * its own /internal/message-status), an SSE reader on /events, a queue (the
 * local queue in the database, or SQS on fauxqs) and the SendCampaignMessage
 * processor driven the way production drives it (the worker loop for the
 * local queue; an SQS event-source-mapping loop for SQS).
 */
import {randomUUID} from 'node:crypto'
import {SQSClient} from '@aws-sdk/client-sqs'
import {notifyStatusApplied} from '../../src/backend-status/status-applied.js'
import {silentLogger, type Logger} from '../../src/cli/logger.js'
import {Settings} from '../../src/config/env.js'
import type {Keyring} from '../../src/crypto/encryption-key.js'
import type {Database, Dialect} from '../../src/db/database.js'
import type {MessagingChannel} from '../../src/messaging/recipients.js'
import {createSendCampaignMessageProcessor, type SendCampaignMessageDeps} from '../../src/pipeline/send/index.js'
import {LocalQueue} from '../../src/queue/local/local-queue.js'
import {toSqsEventRecord, type MessageQueue, type QueueSource} from '../../src/queue/message-queue.js'
import {ensureQueues, messagesQueueDefinition} from '../../src/queue/sqs/queue-definitions.js'
import {SqsQueue} from '../../src/queue/sqs/sqs-queue.js'
import {startServeApp, type ServeApp} from '../../src/serve/serve-app.js'
import {mountTwilioWebhook} from '../../src/serve/twilio-mount.js'
import {defaultSeed, startTwilioSandbox, type BehaviourInput, type SandboxCounters, type TwilioSandboxControl} from '../../src/twilio-sandbox/index.js'
import {generateWebhookSecret} from '../../src/webhooks/standard-webhooks.js'
import {runWorker, type BatchHandler, type WorkerSummary} from '../../src/worker/worker-loop.js'
import type {FauxqsServer} from '../../test/support/fauxqs.js'
import {createCampaign, createContacts, createQueuedMessages, enqueueSendJobs, phoneNumbers, seedTwilioTenant, type MessageRow} from '../../test/support/pipeline-fixtures.js'
import {keyringOf, migratedStore, type MigratedStore} from '../../test/support/webhook-messages.js'
import {openSse, type SseClient} from './sse-client.js'
import {freePort} from './ports.js'
import {startSandboxProcess, startServeProcess, type ChildProcessHandle, type ProcessLayout} from './child-processes.js'

export type PipelineQueueKind = 'local' | 'sqs'

export interface PipelineOptions {
  dialect: Dialect
  queueKind: PipelineQueueKind
  /** Needed for queueKind 'sqs'; one emulator may serve many pipelines (each gets its own queue pair). */
  fauxqs?: FauxqsServer
  sandboxBehaviour?: BehaviourInput
  /** Forwarder rounds besides being kicked (default 100 ms). */
  forwardIntervalMs?: number
  /** Run serve's status forwarder (default true). */
  forwarder?: boolean
  /** Where the forwarder posts; default this serve's own /internal/message-status. */
  statusWebhookUrl?: (serveUrl: string) => string
  /** Visibility timeout of the queue, seconds (default 30; the local worker brings failed records back sooner, by backoff). */
  visibilityTimeoutSeconds?: number
  maxReceiveCount?: number
  /** Extra processor dependencies (claim timeout, fault hooks). */
  processor?: Partial<SendCampaignMessageDeps>
  /** WEBHOOK_BASE_URL for serve's Twilio route; unset, signatures are checked against serve's own URL (the local flow). */
  publicWebhookBaseUrl?: string
  /** Open GET /events before anything is sent (default true). */
  sse?: boolean
  logger?: Logger
  /**
   * Which parts run in child processes (default 'single', all here): the
   * sandbox through `engage sandbox twilio`, serve through `engage serve` on
   * the same database. The worker (queue consumer and handler) always runs here.
   */
  layout?: ProcessLayout
}

/** serve's address and endpoints, whether it runs here or in a child process. */
export interface ServeEndpoints {
  readonly server: {readonly url: string; readonly port: number}
  readonly urls: ServeApp['urls']
}

export interface ConsumeOptions {
  /** Receive loops side by side (Lambda's concurrent pollers / `engage worker --concurrency`); default 4. */
  lanes?: number
  /** Give up after this long (default 120 s). */
  timeoutMs?: number
  /** Wraps the processor, e.g. to deliver records more than once. */
  wrap?: (handler: BatchHandler) => BatchHandler
}

export interface ConsumeReport {
  received: number
  deleted: number
  failed: number
  batches: number
}

export interface Pipeline {
  readonly dialect: Dialect
  readonly queueKind: PipelineQueueKind
  readonly store: MigratedStore
  readonly database: Database
  readonly keyring: Keyring
  readonly encryptionKey: string
  readonly sandbox: TwilioSandboxControl
  readonly serve: ServeEndpoints
  /** The child processes the layout started (none for 'single'), for counting their CPU. */
  readonly processes: readonly ChildProcessHandle[]
  readonly sse: SseClient | undefined
  readonly queue: MessageQueue
  readonly source: QueueSource
  readonly tenantId: string
  readonly accountSid: string
  /** The account's auth token: a secret, for signing test callbacks only. */
  readonly authToken: string
  /** The StatusCallback URL stored in the tenant's settings (serve's POST /webhooks/twilio). */
  readonly webhookUrl: string
  readonly statusWebhookSecret: string
  /** The SendCampaignMessage processor, built once (one Lambda container). */
  readonly handler: BatchHandler
  /** A campaign of `count` recipients (distinct numbers from `offset`) with its queued `messages` rows. */
  newCampaign(channel: Extract<MessagingChannel, 'sms' | 'whatsapp'>, count: number, options?: {body?: string}): Promise<{campaignId: string; messages: MessageRow[]}>
  enqueue(messages: MessageRow[]): Promise<void>
  /** Runs the consumer until the queue is empty and nothing is in flight. */
  consume(options?: ConsumeOptions): Promise<ConsumeReport>
  /** Waits until every message has `status` in the database; returns the stragglers' statuses on timeout. */
  waitForDatabase(messages: MessageRow[], status: string, timeoutMs?: number): Promise<Map<string, string>>
  /** Waits until every message has a `status` frame on SSE; returns the ids still missing on timeout. */
  waitForSse(messages: MessageRow[], status: string, timeoutMs?: number): Promise<string[]>
  /** The sandbox's create counts for each message's recipient. */
  sendCounts(messages: MessageRow[]): Promise<Map<string, {attempts: number; accepted: number}>>
  counters(): Promise<SandboxCounters>
  stop(): Promise<void>
}

let recipientOffset = 0
let queueSequence = 0

/** Starts every part of the pipeline; stop() tears all of it down (database included). */
export async function startPipeline(options: PipelineOptions): Promise<Pipeline> {
  const logger = options.logger ?? silentLogger
  const seed = defaultSeed()
  const account = seed.accounts[0]!
  const serviceSid = seed.services![0]!.sid
  const layout = options.layout ?? 'single'
  const [store, sandbox] = await Promise.all([
    migratedStore(options.dialect),
    layout === 'single' ? startTwilioSandbox({seed, behaviour: options.sandboxBehaviour}) : startSandboxProcess(seed, options.sandboxBehaviour),
  ])
  const processes: ChildProcessHandle[] = 'pid' in sandbox ? [sandbox] : []
  const cleanups: Array<() => Promise<unknown>> = [() => store.dispose(), () => sandbox.stop()]
  const stopAll = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined)
  }
  try {
    const {database, encryptionKey} = store
    const keyring = keyringOf(encryptionKey)
    const port = await freePort()
    const serveUrl = `http://127.0.0.1:${port}`
    const statusWebhookSecret = generateWebhookSecret()
    const statusWebhookUrl = options.forwarder === false ? undefined : (options.statusWebhookUrl?.(serveUrl) ?? `${serveUrl}/internal/message-status`)
    let serve: ServeEndpoints
    if (layout === 'all-apart') {
      // The CLI's serve: its forwarder backs off with its own defaults and is not kicked by this process's writes.
      const started = await startServeProcess({
        databaseUrl: store.testDatabase.url,
        port,
        encryptionKey,
        webhookBaseUrl: options.publicWebhookBaseUrl,
        statusWebhookUrl,
        statusWebhookSecret,
        forwardIntervalMs: options.forwardIntervalMs ?? 100,
      })
      cleanups.splice(1, 0, () => started.child.stop())
      processes.push(started.child)
      serve = {server: {url: started.announced.url, port: started.announced.port}, urls: started.announced}
    } else {
      const settings = new Settings({ENCRYPTION_KEY: encryptionKey, ...(options.publicWebhookBaseUrl ? {WEBHOOK_BASE_URL: options.publicWebhookBaseUrl} : {})}, {})
      const app = await startServeApp({
        database,
        port,
        statusWebhookUrl,
        statusWebhookSecret,
        forwardIntervalMs: options.forwardIntervalMs ?? 100,
        forwardBackoff: {baseMs: 50, maxMs: 1_000},
        twilioWebhook: (serverUrl) => mountTwilioWebhook({database, settings, logger, serverUrl}),
        logger,
      })
      cleanups.splice(1, 0, () => app.stop())
      serve = app
    }
    const webhookUrl = options.publicWebhookBaseUrl ? `${options.publicWebhookBaseUrl.replace(/\/+$/, '')}/webhooks/twilio` : serve.urls.twilioWebhook
    const tenantId = await seedTwilioTenant(database, keyring, {
      slug: `tenant-${randomUUID().slice(0, 8)}`,
      accountSid: account.sid,
      authToken: account.authToken,
      messagingServiceSid: serviceSid,
      twilioBaseUrl: sandbox.url,
      webhookUrl,
    })
    const sse = options.sse === false ? undefined : await openSse(`${serve.urls.events}?tenant=${encodeURIComponent(tenantId)}`)
    if (sse) cleanups.push(async () => sse.close())

    const visibility = options.visibilityTimeoutSeconds ?? 30
    const maxReceiveCount = options.maxReceiveCount ?? 10
    let queue: MessageQueue
    let source: QueueSource
    if (options.queueKind === 'local') {
      queue = new LocalQueue({database, queueName: `pipeline-${++queueSequence}`, visibilityTimeoutSeconds: visibility, maxReceiveCount, pollIntervalMs: 10})
      source = {queueArn: `arn:aws:sqs:local:000000000000:pipeline-${queueSequence}`, awsRegion: 'local'}
    } else {
      if (!options.fauxqs) throw new Error('queueKind sqs needs a fauxqs server')
      const client = new SQSClient(options.fauxqs.clientConfig)
      cleanups.push(async () => client.destroy())
      const definition = {
        ...messagesQueueDefinition(`pipe${process.pid}-${++queueSequence}`),
        visibilityTimeoutSeconds: visibility,
        maxReceiveCount,
        receiveWaitTimeSeconds: 1,
      }
      const ensured = await ensureQueues(client, definition)
      queue = new SqsQueue({client, queueUrl: ensured.queueUrl, deadLetterQueueUrl: ensured.dlqUrl})
      source = {queueArn: ensured.queueArn, awsRegion: options.fauxqs.region}
    }

    const config: Record<string, string> = {TWILIO_API_BASE_URL: sandbox.url}
    const handler = createSendCampaignMessageProcessor({
      database,
      keyring,
      get: (name) => config[name],
      logger,
      onApplied: () => notifyStatusApplied(),
      ...options.processor,
    })

    const pipeline: Pipeline = {
      dialect: options.dialect,
      queueKind: options.queueKind,
      store,
      database,
      keyring,
      encryptionKey,
      sandbox,
      serve,
      processes,
      sse,
      queue,
      source,
      tenantId,
      accountSid: account.sid,
      authToken: account.authToken,
      webhookUrl,
      statusWebhookSecret,
      handler,
      async newCampaign(channel, count, campaignOptions = {}) {
        const campaign = await createCampaign(database, {tenantId, channel, body: campaignOptions.body ?? `${channel} campaign ${randomUUID().slice(0, 8)}`})
        const numbers = phoneNumbers(count, recipientOffset)
        recipientOffset += count
        const contacts = await createContacts(database, tenantId, numbers.map((phone) => ({phone})))
        return {campaignId: campaign.id, messages: await createQueuedMessages(database, campaign, contacts)}
      },
      enqueue: (messages) => enqueueSendJobs(queue, messages),
      async consume(consumeOptions = {}) {
        const lanes = consumeOptions.lanes ?? 4
        const run = consumeOptions.wrap ? consumeOptions.wrap(handler) : handler
        const timeout = AbortSignal.timeout(consumeOptions.timeoutMs ?? 120_000)
        if (options.queueKind === 'local') {
          const summary: WorkerSummary = await runWorker({queue, source, handler: run, concurrency: lanes, batchSize: 10, drain: true, waitSeconds: 1, idleDelayMs: 20, signal: timeout, logger})
          if (summary.stoppedBy !== 'drain') throw new Error(`the local queue did not drain: ${JSON.stringify(summary)}`)
          return {received: summary.received, deleted: summary.deleted, failed: summary.failed, batches: summary.batches}
        }
        return runEventSourceMapping(queue, source, run, {lanes, signal: timeout})
      },
      async waitForDatabase(messages, status, timeoutMs = 60_000) {
        const ids = messages.map((message) => message.id)
        const deadline = Date.now() + timeoutMs
        for (;;) {
          const statuses = await statusesOf(database, ids)
          const stragglers = new Map([...statuses].filter(([, current]) => current !== status))
          if (stragglers.size === 0 || Date.now() > deadline) return stragglers
          await sleep(50)
        }
      },
      async waitForSse(messages, status, timeoutMs = 60_000) {
        if (!sse) throw new Error('this pipeline runs without an SSE reader')
        const deadline = Date.now() + timeoutMs
        for (;;) {
          const missing = messages.filter((message) => !sse.statusesOf(message.id).includes(status)).map((message) => message.id)
          if (missing.length === 0 || Date.now() > deadline || sse.ended) return missing
          await sleep(50)
        }
      },
      async sendCounts(messages) {
        const counters = await sandbox.counters()
        const counts = new Map<string, {attempts: number; accepted: number}>()
        const byAddress = new Map<string, {attempts: number; accepted: number}>()
        for (const entry of counters.byRecipient) {
          const bare = entry.to.startsWith('whatsapp:') ? entry.to.slice('whatsapp:'.length) : entry.to
          const total = byAddress.get(bare) ?? {attempts: 0, accepted: 0}
          total.attempts += entry.attempts
          total.accepted += entry.accepted
          byAddress.set(bare, total)
        }
        for (const message of messages) counts.set(message.id, byAddress.get(message.to_address) ?? {attempts: 0, accepted: 0})
        return counts
      },
      counters: () => sandbox.counters(),
      stop: stopAll,
    }
    return pipeline
  } catch (error) {
    await stopAll()
    throw error
  }
}

/** Current status of each message id (chunks keep PostgreSQL's parameter count small). */
export async function statusesOf(database: Database, ids: string[]): Promise<Map<string, string>> {
  const statuses = new Map<string, string>()
  for (let start = 0; start < ids.length; start += 500) {
    const rows = await database.db.selectFrom('messages').select(['id', 'status']).where('id', 'in', ids.slice(start, start + 500)).execute()
    for (const row of rows) statuses.set(String(row.id), String(row.status))
  }
  return statuses
}

/**
 * What the SQS event source mapping does for a Lambda: each lane receives up
 * to 10 messages, invokes the function with them, and deletes the ones not
 * listed in batchItemFailures; failures stay and come back after the
 * visibility timeout. Ends when the queue reports nothing visible, in flight
 * or delayed.
 */
export async function runEventSourceMapping(
  queue: MessageQueue,
  source: QueueSource,
  handler: BatchHandler,
  options: {lanes: number; signal?: AbortSignal},
): Promise<ConsumeReport> {
  const report: ConsumeReport = {received: 0, deleted: 0, failed: 0, batches: 0}
  let busy = 0
  let done = false
  const lane = async () => {
    while (!done) {
      if (options.signal?.aborted) throw new Error(`the SQS queue did not drain in time: ${JSON.stringify(report)}`)
      const messages = await queue.receive({max: 10, waitSeconds: 0})
      if (messages.length === 0) {
        if (busy === 0) {
          const depth = await queue.depth()
          if (depth.visible === 0 && depth.inFlight === 0 && (depth.delayed ?? 0) === 0 && busy === 0) {
            done = true
            return
          }
        }
        await sleep(50)
        continue
      }
      busy++
      try {
        report.batches++
        report.received += messages.length
        const records = messages.map((message) => toSqsEventRecord(message, source))
        const {batchItemFailures} = await handler({Records: records})
        const failed = new Set(batchItemFailures.map((failure) => failure.itemIdentifier))
        report.failed += failed.size
        const succeeded = messages.filter((message) => !failed.has(message.messageId))
        if (succeeded.length > 0) report.deleted += (await queue.delete(succeeded.map((message) => message.receiptHandle))).deleted.length
      } finally {
        busy--
      }
    }
  }
  await Promise.all(Array.from({length: options.lanes}, lane))
  return report
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
