import type {SQSClient, SQSClientConfig, SendMessageBatchRequestEntry} from '@aws-sdk/client-sqs'
import {ProviderError, UsageError} from '../../errors/engage-error.js'
import {
  type DeleteResult,
  type EnqueueResult,
  type MessageQueue,
  type QueueDepth,
  type QueueMessage,
  type ReceiveOptions,
  type ReceivedMessage,
  md5OfBody,
  messageSizeBytes,
} from '../message-queue.js'

/**
 * {@link MessageQueue} over Amazon SQS (or any endpoint speaking its JSON
 * protocol, such as fauxqs). Sends in SendMessageBatch calls of at most 10
 * entries and at most `maxBatchBytes`; entries SQS reports failed without
 * sender fault (and whole batches that fail with a retryable error) are
 * retried with capped exponential backoff and full jitter, a bounded number
 * of times; everything else is reported per message in the result.
 *
 * The SDK is imported on first use so commands that never touch SQS do not
 * pay for loading it.
 */
export type SqsSender = Pick<SQSClient, 'send'>

export interface SqsQueueOptions {
  client: SqsSender
  queueUrl: string
  /** When set, depth() also reports the dead-letter queue. */
  deadLetterQueueUrl?: string
  /** Per-batch payload limit. SQS allows 1 MiB since 2025; 256 KiB is the long-standing limit and the default. */
  maxBatchBytes?: number
  /** Send attempts per message, first one included. */
  maxAttempts?: number
  baseDelayMs?: number
  maxDelayMs?: number
  /** Batches in flight at once. */
  concurrency?: number
  /** Injected so tests need not wait out real backoff. */
  sleep?: (ms: number) => Promise<void>
}

export const SQS_MAX_BATCH_ENTRIES = 10
export const SQS_DEFAULT_MAX_BATCH_BYTES = 256 * 1024

type SqsModule = typeof import('@aws-sdk/client-sqs')
let sdk: Promise<SqsModule> | undefined
/** The lazily imported @aws-sdk/client-sqs module. */
export function loadSqsSdk(): Promise<SqsModule> {
  sdk ??= import('@aws-sdk/client-sqs')
  return sdk
}

/** Build an SQSClient lazily; for local endpoints pass `endpoint` and any credentials. */
export async function createSqsClient(config: SQSClientConfig): Promise<SQSClient> {
  const {SQSClient} = await loadSqsSdk()
  return new SQSClient(config)
}

interface Pending {
  message: QueueMessage
  attempts: number
  lastCode?: string
  lastMessage?: string
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

function errorFacts(error: unknown): {code: string; message: string; retryable: boolean} {
  const e = error as {name?: string; message?: string; $fault?: string; $retryable?: unknown; $metadata?: {httpStatusCode?: number}}
  const code = e?.name ?? 'Error'
  const status = e?.$metadata?.httpStatusCode
  // No HTTP status means the request never got an answer (connection refused, reset, timeout).
  const retryable =
    e?.$retryable !== undefined ||
    e?.$fault === 'server' ||
    status === undefined ||
    status >= 500 ||
    /Throttl|RequestThrottled|OverLimit|ServiceUnavailable|InternalError/.test(code)
  return {code, message: e?.message ?? String(error), retryable}
}

export class SqsQueue implements MessageQueue {
  readonly kind = 'sqs'
  readonly queueUrl: string
  readonly deadLetterQueueUrl?: string
  private readonly client: SqsSender
  private readonly maxBatchBytes: number
  private readonly maxAttempts: number
  private readonly baseDelayMs: number
  private readonly maxDelayMs: number
  private readonly concurrency: number
  private readonly sleep: (ms: number) => Promise<void>

  constructor(options: SqsQueueOptions) {
    this.client = options.client
    this.queueUrl = options.queueUrl
    this.deadLetterQueueUrl = options.deadLetterQueueUrl
    this.maxBatchBytes = options.maxBatchBytes ?? SQS_DEFAULT_MAX_BATCH_BYTES
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 5)
    this.baseDelayMs = options.baseDelayMs ?? 100
    this.maxDelayMs = options.maxDelayMs ?? 5000
    this.concurrency = Math.max(1, options.concurrency ?? 4)
    this.sleep = options.sleep ?? defaultSleep
  }

  async enqueue(messages: readonly QueueMessage[]): Promise<EnqueueResult> {
    const ids = new Set<string>()
    for (const message of messages) {
      if (ids.has(message.id)) {
        // Refused before anything is sent: results are keyed by id, and nothing may be queued half-way.
        throw new UsageError(`Two messages in one enqueue call share the id "${message.id}".`, {code: 'QUEUE_DUPLICATE_ID'})
      }
      ids.add(message.id)
    }

    const result: EnqueueResult = {sent: [], failed: []}
    let pending: Pending[] = []
    for (const message of messages) {
      const size = messageSizeBytes(message)
      if (size > this.maxBatchBytes) {
        result.failed.push({
          id: message.id,
          code: 'MESSAGE_TOO_LARGE',
          message: `The message is ${size} bytes; one SQS batch holds at most ${this.maxBatchBytes}.`,
          senderFault: true,
          attempts: 0,
        })
      } else {
        pending.push({message, attempts: 0})
      }
    }

    for (let attempt = 1; pending.length > 0; attempt++) {
      if (attempt > 1) await this.sleep(this.backoff(attempt - 1))
      const retry: Pending[] = []
      const batches = this.pack(pending)
      await this.forEachConcurrently(batches, async (batch) => {
        for (const entry of batch) entry.attempts++
        await this.sendBatch(batch, result, retry)
      })
      pending = []
      for (const entry of retry) {
        if (entry.attempts >= this.maxAttempts) {
          result.failed.push({
            id: entry.message.id,
            code: entry.lastCode ?? 'Unknown',
            message: `${entry.lastMessage ?? 'failed'} (gave up after ${entry.attempts} attempts)`,
            senderFault: false,
            attempts: entry.attempts,
          })
        } else {
          pending.push(entry)
        }
      }
    }
    return result
  }

  private async sendBatch(batch: Pending[], result: EnqueueResult, retry: Pending[]): Promise<void> {
    const {SendMessageBatchCommand} = await loadSqsSdk()
    // Entry ids are positional: SQS allows only [A-Za-z0-9_-]{1,80}, which caller ids need not be.
    const entries: SendMessageBatchRequestEntry[] = batch.map((entry, index) => ({
      Id: `m${index}`,
      MessageBody: entry.message.body,
      ...(entry.message.delaySeconds === undefined ? {} : {DelaySeconds: entry.message.delaySeconds}),
      ...(entry.message.attributes && Object.keys(entry.message.attributes).length > 0
        ? {
            MessageAttributes: Object.fromEntries(
              Object.entries(entry.message.attributes).map(([name, value]) => [name, {DataType: 'String', StringValue: value}]),
            ),
          }
        : {}),
    }))
    let response
    try {
      response = await this.client.send(new SendMessageBatchCommand({QueueUrl: this.queueUrl, Entries: entries}))
    } catch (error) {
      const facts = errorFacts(error)
      for (const entry of batch) {
        if (facts.retryable) {
          entry.lastCode = facts.code
          entry.lastMessage = facts.message
          retry.push(entry)
        } else {
          result.failed.push({id: entry.message.id, code: facts.code, message: facts.message, senderFault: true, attempts: entry.attempts})
        }
      }
      return
    }
    const byEntryId = new Map(batch.map((entry, index) => [`m${index}`, entry]))
    for (const ok of response.Successful ?? []) {
      const entry = ok.Id === undefined ? undefined : byEntryId.get(ok.Id)
      if (!entry) continue
      byEntryId.delete(ok.Id!)
      result.sent.push({id: entry.message.id, messageId: ok.MessageId ?? ''})
    }
    for (const failure of response.Failed ?? []) {
      const entry = failure.Id === undefined ? undefined : byEntryId.get(failure.Id)
      if (!entry) continue
      byEntryId.delete(failure.Id!)
      if (failure.SenderFault) {
        result.failed.push({
          id: entry.message.id,
          code: failure.Code ?? 'Unknown',
          message: failure.Message ?? 'rejected by SQS',
          senderFault: true,
          attempts: entry.attempts,
        })
      } else {
        entry.lastCode = failure.Code
        entry.lastMessage = failure.Message
        retry.push(entry)
      }
    }
    // An entry SQS did not mention at all is retried: it was not confirmed as sent.
    for (const entry of byEntryId.values()) {
      entry.lastCode = 'NotReported'
      entry.lastMessage = 'SQS did not report this entry'
      retry.push(entry)
    }
  }

  /** Greedy packing: at most 10 entries and maxBatchBytes per batch, in input order. */
  private pack(pending: Pending[]): Pending[][] {
    const batches: Pending[][] = []
    let current: Pending[] = []
    let bytes = 0
    for (const entry of pending) {
      const size = messageSizeBytes(entry.message)
      if (current.length === SQS_MAX_BATCH_ENTRIES || (current.length > 0 && bytes + size > this.maxBatchBytes)) {
        batches.push(current)
        current = []
        bytes = 0
      }
      current.push(entry)
      bytes += size
    }
    if (current.length > 0) batches.push(current)
    return batches
  }

  private backoff(retryNumber: number): number {
    const cap = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (retryNumber - 1))
    return Math.floor(Math.random() * cap) + 1
  }

  private async forEachConcurrently<T>(items: T[], work: (item: T) => Promise<void>): Promise<void> {
    let next = 0
    const worker = async () => {
      while (next < items.length) {
        const item = items[next++]!
        await work(item)
      }
    }
    await Promise.all(Array.from({length: Math.min(this.concurrency, items.length)}, worker))
  }

  async receive(options: ReceiveOptions): Promise<ReceivedMessage[]> {
    if (!Number.isInteger(options.max) || options.max < 1 || options.max > SQS_MAX_BATCH_ENTRIES) {
      throw new UsageError(`receive max must be an integer from 1 to 10, got ${options.max}.`, {code: 'QUEUE_RECEIVE_MAX_INVALID'})
    }
    const {ReceiveMessageCommand} = await loadSqsSdk()
    const response = await this.call('ReceiveMessage', () =>
      this.client.send(
        new ReceiveMessageCommand({
          QueueUrl: this.queueUrl,
          MaxNumberOfMessages: options.max,
          WaitTimeSeconds: options.waitSeconds ?? 0,
          ...(options.visibilityTimeoutSeconds === undefined ? {} : {VisibilityTimeout: options.visibilityTimeoutSeconds}),
          MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp', 'ApproximateFirstReceiveTimestamp', 'SenderId'],
          MessageAttributeNames: ['All'],
        }),
      ),
    )
    return (response.Messages ?? []).map((message) => {
      const attributes: Record<string, string> = {}
      for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
        if (value.StringValue !== undefined) attributes[name] = value.StringValue
      }
      const system = message.Attributes ?? {}
      const body = message.Body ?? ''
      return {
        messageId: message.MessageId ?? '',
        receiptHandle: message.ReceiptHandle ?? '',
        body,
        attributes,
        receiveCount: Number(system.ApproximateReceiveCount ?? 1),
        sentTimestamp: Number(system.SentTimestamp ?? Date.now()),
        ...(system.ApproximateFirstReceiveTimestamp === undefined ? {} : {firstReceiveTimestamp: Number(system.ApproximateFirstReceiveTimestamp)}),
        ...(system.SenderId === undefined ? {} : {senderId: system.SenderId}),
        md5OfBody: message.MD5OfBody ?? md5OfBody(body),
        ...(message.MD5OfMessageAttributes === undefined ? {} : {md5OfMessageAttributes: message.MD5OfMessageAttributes}),
      }
    })
  }

  async delete(receiptHandles: readonly string[]): Promise<DeleteResult> {
    const {DeleteMessageBatchCommand} = await loadSqsSdk()
    const result: DeleteResult = {deleted: [], failed: []}
    for (let start = 0; start < receiptHandles.length; start += SQS_MAX_BATCH_ENTRIES) {
      const chunk = receiptHandles.slice(start, start + SQS_MAX_BATCH_ENTRIES)
      const response = await this.call('DeleteMessageBatch', () =>
        this.client.send(
          new DeleteMessageBatchCommand({
            QueueUrl: this.queueUrl,
            Entries: chunk.map((ReceiptHandle, index) => ({Id: `d${index}`, ReceiptHandle})),
          }),
        ),
      )
      const handleOf = (id: string | undefined) => chunk[Number((id ?? '').slice(1))]
      for (const ok of response.Successful ?? []) {
        const handle = handleOf(ok.Id)
        if (handle !== undefined) result.deleted.push(handle)
      }
      for (const failure of response.Failed ?? []) {
        const handle = handleOf(failure.Id)
        if (handle !== undefined) result.failed.push({receiptHandle: handle, code: failure.Code ?? 'Unknown', message: failure.Message ?? ''})
      }
    }
    return result
  }

  async changeVisibility(receiptHandle: string, seconds: number): Promise<void> {
    const {ChangeMessageVisibilityCommand} = await loadSqsSdk()
    await this.call('ChangeMessageVisibility', () =>
      this.client.send(new ChangeMessageVisibilityCommand({QueueUrl: this.queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: seconds})),
    )
  }

  async depth(): Promise<QueueDepth> {
    const {GetQueueAttributesCommand} = await loadSqsSdk()
    const read = (queueUrl: string) =>
      this.call('GetQueueAttributes', () =>
        this.client.send(
          new GetQueueAttributesCommand({
            QueueUrl: queueUrl,
            AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
          }),
        ),
      )
    const main = (await read(this.queueUrl)).Attributes ?? {}
    const depth: QueueDepth = {
      visible: Number(main.ApproximateNumberOfMessages ?? 0),
      inFlight: Number(main.ApproximateNumberOfMessagesNotVisible ?? 0),
      delayed: Number(main.ApproximateNumberOfMessagesDelayed ?? 0),
    }
    if (this.deadLetterQueueUrl) {
      const dlq = (await read(this.deadLetterQueueUrl)).Attributes ?? {}
      depth.deadLetter =
        Number(dlq.ApproximateNumberOfMessages ?? 0) +
        Number(dlq.ApproximateNumberOfMessagesNotVisible ?? 0) +
        Number(dlq.ApproximateNumberOfMessagesDelayed ?? 0)
    }
    return depth
  }

  private async call<T>(operation: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send()
    } catch (error) {
      const facts = errorFacts(error)
      throw new ProviderError(`SQS ${operation} failed: ${facts.code}: ${facts.message}`, {
        code: 'SQS_REQUEST_FAILED',
        cause: error,
        details: {operation, awsCode: facts.code, retryable: facts.retryable},
        suggestions: facts.retryable
          ? ['SQS did not answer or was throttled; try again, and check the endpoint and network if it persists.']
          : ['Check that the queue exists (engage deploy local creates it) and that the credentials may use it.'],
      })
    }
  }
}

