import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  SQSClient,
  SendMessageBatchCommand,
  type SendMessageBatchCommandOutput,
} from '@aws-sdk/client-sqs'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {ProviderError, UsageError} from '../../src/errors/engage-error.js'
import {
  encodeQueueBody,
  md5OfBody,
  md5OfStringAttributes,
  messageSizeBytes,
  toSqsEventRecord,
  type QueueMessage,
  type ReceivedMessage,
} from '../../src/queue/message-queue.js'
import {ensureQueues, messagesQueueDefinition, type QueueDefinition} from '../../src/queue/sqs/queue-definitions.js'
import {SqsQueue, type SqsSender} from '../../src/queue/sqs/sqs-queue.js'
import {startFauxqs, type FauxqsServer} from '../support/fauxqs.js'

/**
 * A pass-through SQS client that records every command and can rewrite a
 * SendMessageBatch the way SQS answers a transient failure: the chosen
 * entries are not forwarded and come back in `Failed` with SenderFault false.
 */
class RecordingClient implements SqsSender {
  readonly calls: Array<{name: string; input: Record<string, unknown>}> = []
  failEntries?: (call: number, entries: Array<{Id: string; MessageBody: string}>) => string[]
  /** Receipt handles a DeleteMessageBatch reports as ReceiptHandleIsInvalid, as SQS does for malformed ones. */
  invalidReceiptHandles = new Set<string>()
  throwOnCall?: (call: number) => Error | undefined
  private batchCalls = 0

  constructor(private readonly real: SQSClient) {}

  send = (async (command: {constructor: {name: string}; input: Record<string, unknown>}) => {
    const name = command.constructor.name.replace(/Command$/, '')
    this.calls.push({name, input: command.input})
    if (name === 'DeleteMessageBatch') return this.deleteBatch(command.input as {QueueUrl: string; Entries: Array<{Id: string; ReceiptHandle: string}>})
    if (name !== 'SendMessageBatch') return this.real.send(command as never)
    const call = ++this.batchCalls
    const injected = this.throwOnCall?.(call)
    if (injected) throw injected
    const entries = command.input.Entries as Array<{Id: string; MessageBody: string}>
    const failing = new Set(this.failEntries?.(call, entries) ?? [])
    if (failing.size === 0) return this.real.send(command as never)
    const forwarded = entries.filter((entry) => !failing.has(entry.Id))
    const output: SendMessageBatchCommandOutput =
      forwarded.length > 0
        ? await this.real.send(new SendMessageBatchCommand({...(command.input as {QueueUrl: string}), Entries: forwarded}))
        : {Successful: [], Failed: [], $metadata: {}}
    return {
      ...output,
      Failed: [...(output.Failed ?? []), ...[...failing].map((Id) => ({Id, SenderFault: false, Code: 'InternalError', Message: 'We encountered an internal error.'}))],
    }
  }) as SqsSender['send']

  private async deleteBatch(input: {QueueUrl: string; Entries: Array<{Id: string; ReceiptHandle: string}>}) {
    const invalid = input.Entries.filter((e) => this.invalidReceiptHandles.has(e.ReceiptHandle))
    const valid = input.Entries.filter((e) => !this.invalidReceiptHandles.has(e.ReceiptHandle))
    const output = valid.length > 0 ? await this.real.send(new DeleteMessageBatchCommand({QueueUrl: input.QueueUrl, Entries: valid})) : {Successful: [], Failed: []}
    return {
      ...output,
      Failed: [
        ...(output.Failed ?? []),
        ...invalid.map((e) => ({Id: e.Id, SenderFault: true, Code: 'ReceiptHandleIsInvalid', Message: `The input receipt handle "${e.ReceiptHandle}" is not a valid receipt handle.`})),
      ],
    }
  }

  batchSizes(): number[] {
    return this.calls.filter((c) => c.name === 'SendMessageBatch').map((c) => (c.input.Entries as unknown[]).length)
  }
}

function messages(count: number, prefix = 'msg', extra: Partial<QueueMessage> = {}): QueueMessage[] {
  return Array.from({length: count}, (_, i) => ({
    id: `${prefix}-${i}`,
    body: encodeQueueBody({campaignMessageId: `${prefix}-${i}`, to: '+14155550100', body: `Hello ${i} 😀`}),
    attributes: {tenantId: 't_1', campaignId: 'c_1', channel: 'sms'},
    ...extra,
  }))
}

async function receiveAll(queue: SqsQueue, expected: number, options: {visibilityTimeoutSeconds?: number} = {}): Promise<ReceivedMessage[]> {
  const received: ReceivedMessage[] = []
  for (let round = 0; round < 20 && received.length < expected; round++) {
    received.push(...(await queue.receive({max: 10, waitSeconds: 1, ...options})))
  }
  return received
}

const noSleep = async () => {}

describe('SqsQueue against fauxqs', () => {
  let server: FauxqsServer
  let sqs: SQSClient
  let definitionSeq = 0

  // A fresh queue pair per test, so counts never leak between tests.
  async function freshQueues(overrides: Partial<QueueDefinition> = {}) {
    const base = messagesQueueDefinition(`itest${++definitionSeq}`)
    const definition = {...base, ...overrides}
    const ensured = await ensureQueues(sqs, definition)
    return {definition, ensured}
  }

  beforeAll(async () => {
    server = await startFauxqs()
    sqs = new SQSClient(server.clientConfig)
  })

  afterAll(async () => {
    sqs?.destroy()
    await server?.stop()
  })

  describe('ensureQueues', () => {
    it('creates the DLQ and the main queue with a redrive policy, and is idempotent', async () => {
      const definition = messagesQueueDefinition('ensure')

      const first = await ensureQueues(sqs, definition)
      const second = await ensureQueues(sqs, definition)

      expect(first.created).toEqual(['engageninja-messages-ensure-dlq', 'engageninja-messages-ensure'])
      expect(first.queueArn).toBe(`arn:aws:sqs:${server.region}:000000000000:engageninja-messages-ensure`)
      expect(first.dlqArn).toBe(`arn:aws:sqs:${server.region}:000000000000:engageninja-messages-ensure-dlq`)
      // fauxqs refuses RedriveAllowPolicy in SetQueueAttributes ("Unknown attribute"); reported, not fatal.
      expect(first.unsupported).toEqual(['engageninja-messages-ensure-dlq: RedriveAllowPolicy'])
      expect(second).toMatchObject({created: [], updated: [], queueUrl: first.queueUrl, dlqUrl: first.dlqUrl})

      const attributes = (await sqs.send(new GetQueueAttributesCommand({QueueUrl: first.queueUrl, AttributeNames: ['All']}))).Attributes!
      expect(attributes.VisibilityTimeout).toBe('180')
      expect(attributes.MessageRetentionPeriod).toBe(String(4 * 24 * 3600))
      expect(attributes.ReceiveMessageWaitTimeSeconds).toBe('20')
      expect(JSON.parse(attributes.RedrivePolicy!)).toEqual({deadLetterTargetArn: first.dlqArn, maxReceiveCount: 5})
      const dlqAttributes = (
        await sqs.send(new GetQueueAttributesCommand({QueueUrl: first.dlqUrl, AttributeNames: ['MessageRetentionPeriod', 'SqsManagedSseEnabled' as never]}))
      ).Attributes
      expect(dlqAttributes).toEqual({MessageRetentionPeriod: String(14 * 24 * 3600), SqsManagedSseEnabled: 'true'})
      expect((await server.inspectQueue('engageninja-messages-ensure'))?.arn).toBe(first.queueArn)
    })

    it('converges an existing queue whose attributes drifted', async () => {
      const definition = messagesQueueDefinition('drift')
      await ensureQueues(sqs, {...definition, visibilityTimeoutSeconds: 45, maxReceiveCount: 9})

      const again = await ensureQueues(sqs, definition)

      expect(again.created).toEqual([])
      expect(again.updated).toEqual(['engageninja-messages-drift: VisibilityTimeout', 'engageninja-messages-drift: RedrivePolicy'])
      const attributes = (await sqs.send(new GetQueueAttributesCommand({QueueUrl: again.queueUrl, AttributeNames: ['VisibilityTimeout', 'RedrivePolicy']}))).Attributes!
      expect(attributes.VisibilityTimeout).toBe('180')
      expect(JSON.parse(attributes.RedrivePolicy!).maxReceiveCount).toBe(5)
    })

    it('refuses an environment name that cannot be part of a queue name', () => {
      expect(() => messagesQueueDefinition('Prod Env')).toThrowError(UsageError)
      expect(() => messagesQueueDefinition('x'.repeat(60))).toThrowError(/cannot be used/)
    })

    it('reports an unreachable endpoint as a ProviderError', async () => {
      const dead = new SQSClient({...server.clientConfig, endpoint: 'http://127.0.0.1:9', maxAttempts: 1})
      await expect(ensureQueues(dead, messagesQueueDefinition('dead'))).rejects.toMatchObject({name: 'ProviderError', code: 'SQS_QUEUE_SETUP_FAILED'})
      dead.destroy()
    })
  })

  it('enqueues 25 messages in 3 batches, receives them with their attributes, and deletes them', async () => {
    const {ensured} = await freshQueues()
    const client = new RecordingClient(sqs)
    const queue = new SqsQueue({client, queueUrl: ensured.queueUrl, deadLetterQueueUrl: ensured.dlqUrl, sleep: noSleep})
    const batch = messages(25)

    const result = await queue.enqueue(batch)

    expect(result.failed).toEqual([])
    expect(result.sent.map((s) => s.id).sort()).toEqual(batch.map((m) => m.id).sort())
    expect(client.batchSizes()).toEqual([10, 10, 5])
    expect(await queue.depth()).toEqual({visible: 25, inFlight: 0, delayed: 0, deadLetter: 0})

    const received = await receiveAll(queue, 25)
    expect(received).toHaveLength(25)
    expect(await queue.depth()).toMatchObject({visible: 0, inFlight: 25})
    const byMessageId = new Map(result.sent.map((s) => [s.messageId, s.id]))
    for (const message of received) {
      const id = byMessageId.get(message.messageId)!
      const original = batch.find((m) => m.id === id)!
      expect(message.body).toBe(original.body)
      expect(JSON.parse(message.body).body).toMatch(/^Hello \d+ 😀$/)
      expect(message.attributes).toEqual(original.attributes)
      expect(message.receiveCount).toBe(1)
      expect(message.md5OfBody).toBe(md5OfBody(original.body))
      // Our MD5-of-attributes algorithm agrees with the emulator's (which follows AWS's).
      expect(message.md5OfMessageAttributes).toBe(md5OfStringAttributes(original.attributes!))
      expect(message.sentTimestamp).toBeGreaterThan(Date.now() - 60_000)
    }

    const deleted = await queue.delete(received.map((m) => m.receiptHandle))
    expect(deleted.failed).toEqual([])
    expect(deleted.deleted).toHaveLength(25)
    expect(client.calls.filter((c) => c.name === 'DeleteMessageBatch')).toHaveLength(3)
    expect(await queue.depth()).toEqual({visible: 0, inFlight: 0, delayed: 0, deadLetter: 0})
  })

  it('converts a received message to the SQS Lambda event record shape', async () => {
    const {ensured} = await freshQueues()
    const queue = new SqsQueue({client: sqs, queueUrl: ensured.queueUrl, sleep: noSleep})
    await queue.enqueue(messages(1))
    const [message] = await receiveAll(queue, 1)

    const record = toSqsEventRecord(message!, {queueArn: ensured.queueArn, awsRegion: server.region})

    expect(record).toEqual({
      messageId: message!.messageId,
      receiptHandle: message!.receiptHandle,
      body: message!.body,
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: String(message!.sentTimestamp),
        SenderId: '000000000000',
        ApproximateFirstReceiveTimestamp: String(message!.firstReceiveTimestamp),
      },
      messageAttributes: {
        tenantId: {stringValue: 't_1', stringListValues: [], binaryListValues: [], dataType: 'String'},
        campaignId: {stringValue: 'c_1', stringListValues: [], binaryListValues: [], dataType: 'String'},
        channel: {stringValue: 'sms', stringListValues: [], binaryListValues: [], dataType: 'String'},
      },
      md5OfBody: md5OfBody(message!.body),
      md5OfMessageAttributes: message!.md5OfMessageAttributes,
      eventSource: 'aws:sqs',
      eventSourceARN: ensured.queueArn,
      awsRegion: server.region,
    })
  })

  it('redelivers with ApproximateReceiveCount 2 once the visibility timeout expires', async () => {
    const {ensured} = await freshQueues()
    const queue = new SqsQueue({client: sqs, queueUrl: ensured.queueUrl, sleep: noSleep})
    await queue.enqueue(messages(1))

    const [first] = await queue.receive({max: 1, waitSeconds: 1, visibilityTimeoutSeconds: 1})
    expect(await queue.receive({max: 1})).toEqual([]) // hidden while in flight
    const [second] = await receiveAll(queue, 1) // long-polls across the 1 s timeout

    expect(first!.receiveCount).toBe(1)
    expect(second!.messageId).toBe(first!.messageId)
    expect(second!.receiveCount).toBe(2)
    expect(second!.receiptHandle).not.toBe(first!.receiptHandle)
  })

  it('makes a message visible at once with changeVisibility(0)', async () => {
    const {ensured} = await freshQueues()
    const queue = new SqsQueue({client: sqs, queueUrl: ensured.queueUrl, sleep: noSleep})
    await queue.enqueue(messages(1))
    const [first] = await queue.receive({max: 1, waitSeconds: 1})

    await queue.changeVisibility(first!.receiptHandle, 0)

    const [again] = await queue.receive({max: 1})
    expect(again!.messageId).toBe(first!.messageId)
    expect(again!.receiveCount).toBe(2)
  })

  it('moves a message to the DLQ after maxReceiveCount receives', async () => {
    const {ensured} = await freshQueues({maxReceiveCount: 2})
    const queue = new SqsQueue({client: sqs, queueUrl: ensured.queueUrl, deadLetterQueueUrl: ensured.dlqUrl, sleep: noSleep})
    const dlq = new SqsQueue({client: sqs, queueUrl: ensured.dlqUrl, sleep: noSleep})
    const [original] = messages(1)
    const sent = await queue.enqueue([original!])

    const counts: number[] = []
    for (let i = 0; i < 2; i++) {
      const [message] = await queue.receive({max: 1, waitSeconds: 1})
      counts.push(message!.receiveCount)
      await queue.changeVisibility(message!.receiptHandle, 0) // a failed attempt
    }
    const third = await queue.receive({max: 1})

    expect(counts).toEqual([1, 2])
    expect(third).toEqual([])
    expect(await queue.depth()).toEqual({visible: 0, inFlight: 0, delayed: 0, deadLetter: 1})
    const [dead] = await dlq.receive({max: 1, waitSeconds: 1})
    expect(dead!.messageId).toBe(sent.sent[0]!.messageId)
    expect(dead!.body).toBe(original!.body)
    expect(dead!.attributes).toEqual(original!.attributes)
  })

  it('reports entries SQS rejects per message while the others are sent', async () => {
    // A queue with a 1 KiB MaximumMessageSize makes fauxqs reject one entry inside a good batch.
    const url = (await sqs.send(new CreateQueueCommand({QueueName: 'small-messages', Attributes: {MaximumMessageSize: '1024'}}))).QueueUrl!
    const client = new RecordingClient(sqs)
    const queue = new SqsQueue({client, queueUrl: url, sleep: noSleep})
    const batch = messages(5)
    batch[2] = {id: 'too-big-for-queue', body: 'x'.repeat(2000)}
    batch[4] = {id: 'nul-char', body: 'bad \u0000 body'}

    const result = await queue.enqueue(batch)

    expect(client.batchSizes()).toEqual([5]) // sender faults are not retried
    expect(result.sent.map((s) => s.id).sort()).toEqual(['msg-0', 'msg-1', 'msg-3'])
    expect(result.failed).toEqual([
      expect.objectContaining({id: 'too-big-for-queue', code: 'InvalidParameterValue', senderFault: true, attempts: 1}),
      expect.objectContaining({id: 'nul-char', code: 'InvalidMessageContents', senderFault: true, attempts: 1}),
    ])
    expect(await queue.depth()).toMatchObject({visible: 3})
  })

  it('refuses a message larger than one batch before sending anything for it', async () => {
    const {ensured} = await freshQueues()
    const client = new RecordingClient(sqs)
    const queue = new SqsQueue({client, queueUrl: ensured.queueUrl, maxBatchBytes: 4096, sleep: noSleep})

    const result = await queue.enqueue([{id: 'huge', body: 'y'.repeat(5000)}, ...messages(2)])

    expect(result.failed).toEqual([{id: 'huge', code: 'MESSAGE_TOO_LARGE', message: expect.stringMatching(/5000 bytes/), senderFault: true, attempts: 0}])
    expect(result.sent).toHaveLength(2)
    expect(client.batchSizes()).toEqual([2])
  })

  it('keeps every SendMessageBatch under 256 KiB', async () => {
    const {ensured} = await freshQueues()
    const client = new RecordingClient(sqs)
    const queue = new SqsQueue({client, queueUrl: ensured.queueUrl, sleep: noSleep})
    const big = Array.from({length: 10}, (_, i) => ({id: `big-${i}`, body: 'z'.repeat(100 * 1024)}))

    const result = await queue.enqueue(big)

    expect(result.failed).toEqual([])
    expect(client.batchSizes()).toEqual([2, 2, 2, 2, 2])
    for (const call of client.calls.filter((c) => c.name === 'SendMessageBatch')) {
      const bytes = (call.input.Entries as Array<{MessageBody: string}>).reduce((sum, e) => sum + messageSizeBytes({body: e.MessageBody}), 0)
      expect(bytes).toBeLessThanOrEqual(256 * 1024)
    }
    expect(await queue.depth()).toMatchObject({visible: 10})
  })

  it('retries entries that failed without sender fault, with backoff, and sends them once', async () => {
    const {ensured} = await freshQueues()
    const client = new RecordingClient(sqs)
    client.failEntries = (call) => (call === 1 ? ['m3', 'm7'] : call === 2 ? ['m0'] : [])
    const delays: number[] = []
    const queue = new SqsQueue({client, queueUrl: ensured.queueUrl, concurrency: 1, baseDelayMs: 100, sleep: async (ms) => void delays.push(ms)})
    const batch = messages(10)

    const result = await queue.enqueue(batch)

    expect(result.failed).toEqual([])
    expect(result.sent.map((s) => s.id).sort()).toEqual(batch.map((m) => m.id).sort())
    expect(client.batchSizes()).toEqual([10, 2, 1]) // the retry of msg-3 and msg-7 failed msg-3 again
    expect(delays).toHaveLength(2)
    expect(delays[0]).toBeGreaterThan(0)
    expect(delays[0]).toBeLessThanOrEqual(100)
    expect(delays[1]).toBeLessThanOrEqual(200)
    const received = await receiveAll(queue, 10)
    expect(received.map((m) => JSON.parse(m.body).campaignMessageId).sort()).toEqual(batch.map((m) => m.id).sort())
  })

  it('gives up after maxAttempts and reports the last error per message', async () => {
    const {ensured} = await freshQueues()
    const client = new RecordingClient(sqs)
    client.failEntries = (_call, entries) => entries.filter((e) => e.MessageBody.includes('"always-fail-0"')).map((e) => e.Id)
    const queue = new SqsQueue({client, queueUrl: ensured.queueUrl, maxAttempts: 3, sleep: noSleep})

    const result = await queue.enqueue([...messages(1, 'always-fail'), ...messages(3, 'fine')])

    expect(result.sent.map((s) => s.id).sort()).toEqual(['fine-0', 'fine-1', 'fine-2'])
    expect(result.failed).toEqual([
      {id: 'always-fail-0', code: 'InternalError', message: 'We encountered an internal error. (gave up after 3 attempts)', senderFault: false, attempts: 3},
    ])
    expect(client.batchSizes()).toEqual([4, 1, 1])
  })

  it('retries a whole batch when the call fails with a server error', async () => {
    const {ensured} = await freshQueues()
    const client = new RecordingClient(sqs)
    client.throwOnCall = (call) => (call === 1 ? Object.assign(new Error('Service Unavailable'), {name: 'ServiceUnavailable', $fault: 'server', $metadata: {httpStatusCode: 503}}) : undefined)
    const queue = new SqsQueue({client, queueUrl: ensured.queueUrl, sleep: noSleep})

    const result = await queue.enqueue(messages(4))

    expect(result.failed).toEqual([])
    expect(result.sent).toHaveLength(4)
    expect(client.batchSizes()).toEqual([4, 4])
    expect(await queue.depth()).toMatchObject({visible: 4})
  })

  it('does not retry a batch refused for a non-retryable reason', async () => {
    const client = new RecordingClient(sqs)
    const queue = new SqsQueue({client, queueUrl: `${server.endpoint}/000000000000/no-such-queue`, sleep: noSleep})

    const result = await queue.enqueue(messages(2))

    expect(result.sent).toEqual([])
    expect(result.failed.map((f) => [f.id, f.code, f.attempts])).toEqual([
      ['msg-0', 'QueueDoesNotExist', 1],
      ['msg-1', 'QueueDoesNotExist', 1],
    ])
    expect(client.batchSizes()).toEqual([2])
  })

  it('refuses duplicate ids before sending anything', async () => {
    const client = new RecordingClient(sqs)
    const queue = new SqsQueue({client, queueUrl: `${server.endpoint}/000000000000/unused`, sleep: noSleep})
    await expect(queue.enqueue([...messages(1), ...messages(1)])).rejects.toMatchObject({code: 'QUEUE_DUPLICATE_ID'})
    expect(client.calls).toEqual([])
  })

  it('reports delete failures per receipt handle', async () => {
    // fauxqs answers success for any receipt handle, so the failure is injected in SQS's wire format.
    const {ensured} = await freshQueues()
    const client = new RecordingClient(sqs)
    client.invalidReceiptHandles.add('not-a-receipt-handle')
    const queue = new SqsQueue({client, queueUrl: ensured.queueUrl, sleep: noSleep})
    await queue.enqueue(messages(1))
    const [message] = await receiveAll(queue, 1)

    const result = await queue.delete([message!.receiptHandle, 'not-a-receipt-handle'])

    expect(result.deleted).toEqual([message!.receiptHandle])
    expect(result.failed).toEqual([{receiptHandle: 'not-a-receipt-handle', code: 'ReceiptHandleIsInvalid', message: expect.any(String)}])
    expect(await queue.depth()).toMatchObject({visible: 0, inFlight: 0})
  })

  it('turns failed calls into ProviderErrors and bad options into UsageErrors', async () => {
    const queue = new SqsQueue({client: sqs, queueUrl: `${server.endpoint}/000000000000/no-such-queue`, sleep: noSleep})
    await expect(queue.receive({max: 1})).rejects.toBeInstanceOf(ProviderError)
    await expect(queue.depth()).rejects.toMatchObject({code: 'SQS_REQUEST_FAILED', details: {operation: 'GetQueueAttributes', awsCode: 'QueueDoesNotExist'}})
    await expect(queue.receive({max: 11})).rejects.toBeInstanceOf(UsageError)
  })
})

describe('encodeQueueBody', () => {
  it('escapes emoji, DEL/C1 controls and noncharacters, and round-trips through JSON.parse', () => {
    const payload = {body: 'Hi 😀 \u007f\u0085 \ufffe é Ж', nul: '\u0000'}
    const encoded = encodeQueueBody(payload)
    expect(encoded).toBe('{"body":"Hi \\ud83d\\ude00 \\u007f\\u0085 \\ufffe é Ж","nul":"\\u0000"}')
    expect(JSON.parse(encoded)).toEqual(payload)
  })

  it('refuses a value JSON cannot represent', () => {
    expect(() => encodeQueueBody(undefined)).toThrowError(TypeError)
  })
})
