import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {silentLogger} from '../../src/cli/logger.js'
import {Settings} from '../../src/config/env.js'
import type {Database} from '../../src/db/database.js'
import {DatabaseError, ProviderError, UsageError} from '../../src/errors/engage-error.js'
import {createMigrator} from '../../src/migrate/migrator.js'
import {listTables} from '../../src/migrate/schema-inspect.js'
import {LocalQueue, type LocalQueueOptions} from '../../src/queue/local/local-queue.js'
import {md5OfBody, md5OfStringAttributes, toSqsEventRecord, type QueueMessage} from '../../src/queue/message-queue.js'
import {createTestDatabase, DIALECTS, type TestDatabase} from '../support/databases.js'

const ENCRYPTION_KEY = '5a'.repeat(32)
const START = Date.UTC(2026, 2, 1, 12, 0, 0)

/** A clock the test moves by hand; the queue's long-poll sleeps advance it instead of waiting. */
class FakeClock {
  time = START
  sleeps: number[] = []
  now = () => this.time
  sleep = async (ms: number) => {
    this.sleeps.push(ms)
    this.time += ms
  }
  advance(ms: number) {
    this.time += ms
  }
}

const messages = (count: number, prefix = 'm'): QueueMessage[] =>
  Array.from({length: count}, (_, i) => ({
    id: `${prefix}${i}`,
    body: JSON.stringify({campaignMessageId: i, text: `Hello ${i} 🚀`}),
    attributes: {tenantId: '7', campaignId: '42', channel: 'sms'},
  }))

function migrator(database: Database) {
  return createMigrator({database, settings: new Settings({ENCRYPTION_KEY}, {}), logger: silentLogger})
}

describe.each(DIALECTS)('LocalQueue on %s', (dialect) => {
  let testDatabase: TestDatabase
  let database: Database
  let clock: FakeClock

  beforeEach(async () => {
    testDatabase = await createTestDatabase(dialect)
    database = await testDatabase.open({create: true})
    const run = await migrator(database).up()
    expect(run.error).toBeUndefined()
    clock = new FakeClock()
  })
  afterEach(async () => {
    await testDatabase.dispose()
  })

  const queueOn = (options: Partial<LocalQueueOptions> = {}) =>
    new LocalQueue({database, queueName: 'engageninja-messages-test', now: clock.now, sleep: clock.sleep, ...options})

  it('enqueues, receives with SQS fields, hides in-flight messages, and deletes', async () => {
    const queue = queueOn()
    const batch = messages(3)

    const sent = await queue.enqueue(batch)
    const received = await queue.receive({max: 10})
    const again = await queue.receive({max: 10})
    const depthInFlight = await queue.depth()
    const deleted = await queue.delete(received.map((message) => message.receiptHandle))

    expect(sent.failed).toEqual([])
    expect(sent.sent.map((entry) => entry.id)).toEqual(['m0', 'm1', 'm2'])
    expect(new Set(sent.sent.map((entry) => entry.messageId)).size).toBe(3)
    expect(received.map((message) => message.messageId)).toEqual(sent.sent.map((entry) => entry.messageId))
    for (const [index, message] of received.entries()) {
      expect(message).toEqual({
        messageId: sent.sent[index]!.messageId,
        receiptHandle: expect.stringMatching(/^.+\.[0-9a-f]{32}$/),
        body: batch[index]!.body,
        attributes: batch[index]!.attributes,
        receiveCount: 1,
        sentTimestamp: START,
        firstReceiveTimestamp: START,
        md5OfBody: md5OfBody(batch[index]!.body),
        md5OfMessageAttributes: md5OfStringAttributes(batch[index]!.attributes!),
      })
    }
    expect(again).toEqual([])
    expect(depthInFlight).toEqual({visible: 0, inFlight: 3, delayed: 0, deadLetter: 0})
    expect(deleted).toEqual({deleted: received.map((message) => message.receiptHandle), failed: []})
    expect(await queue.depth()).toEqual({visible: 0, inFlight: 0, delayed: 0, deadLetter: 0})
  })

  it('converts to the SQS Lambda record shape', async () => {
    const queue = queueOn()
    await queue.enqueue(messages(1))
    const [message] = await queue.receive({max: 1})

    const record = toSqsEventRecord(message!, {queueArn: 'arn:aws:sqs:us-east-1:000000000000:engageninja-messages-local', awsRegion: 'us-east-1'})

    expect(record).toMatchObject({
      messageId: message!.messageId,
      receiptHandle: message!.receiptHandle,
      attributes: {ApproximateReceiveCount: '1', SentTimestamp: String(START), ApproximateFirstReceiveTimestamp: String(START)},
      messageAttributes: {tenantId: {stringValue: '7', dataType: 'String', stringListValues: [], binaryListValues: []}},
      md5OfBody: md5OfBody(message!.body),
      eventSource: 'aws:sqs',
    })
  })

  it('redelivers after the visibility timeout with receive count 2 and a new handle; the old handle is rejected', async () => {
    const queue = queueOn({visibilityTimeoutSeconds: 30})
    await queue.enqueue(messages(1))
    const [first] = await queue.receive({max: 1})

    clock.advance(29_999)
    const early = await queue.receive({max: 1})
    clock.advance(1)
    const [second] = await queue.receive({max: 1})
    const staleDelete = await queue.delete([first!.receiptHandle])
    const staleChange = await queue.changeVisibility(first!.receiptHandle, 0).catch((error: unknown) => error)
    const currentDelete = await queue.delete([second!.receiptHandle])

    expect(early).toEqual([])
    expect(second).toMatchObject({messageId: first!.messageId, receiveCount: 2, firstReceiveTimestamp: START, sentTimestamp: START})
    expect(second!.receiptHandle).not.toBe(first!.receiptHandle)
    expect(staleDelete).toEqual({deleted: [], failed: [{receiptHandle: first!.receiptHandle, code: 'ReceiptHandleIsInvalid', message: expect.any(String)}]})
    expect(staleChange).toBeInstanceOf(ProviderError)
    expect(staleChange).toMatchObject({code: 'QUEUE_RECEIPT_HANDLE_INVALID', details: {awsCode: 'ReceiptHandleIsInvalid'}})
    expect(currentDelete.deleted).toEqual([second!.receiptHandle])
    expect(await queue.depth()).toMatchObject({visible: 0, inFlight: 0})
  })

  it('redelivers on the real clock once a 1 s visibility timeout passes (long poll across it)', async () => {
    const queue = new LocalQueue({database, queueName: 'real-clock', pollIntervalMs: 20})
    await queue.enqueue(messages(1))

    const [first] = await queue.receive({max: 1, visibilityTimeoutSeconds: 1})
    const hidden = await queue.receive({max: 1})
    const [second] = await queue.receive({max: 1, waitSeconds: 2})

    expect(first!.receiveCount).toBe(1)
    expect(hidden).toEqual([])
    expect(second).toMatchObject({messageId: first!.messageId, receiveCount: 2})
  })

  it('changeVisibility(0) makes a message visible at once; a longer one extends the hiding from now', async () => {
    const queue = queueOn({visibilityTimeoutSeconds: 30})
    await queue.enqueue(messages(2))
    const [a, b] = await queue.receive({max: 2})

    await queue.changeVisibility(a!.receiptHandle, 0)
    const [again] = await queue.receive({max: 10})
    clock.advance(20_000)
    await queue.changeVisibility(b!.receiptHandle, 60)
    clock.advance(40_000) // 60 s after b's receive: past its original timeout, not past the extension
    const whileExtended = await queue.receive({max: 10})
    clock.advance(20_000)
    const [afterExtension] = await queue.receive({max: 10})

    expect(again).toMatchObject({messageId: a!.messageId, receiveCount: 2})
    expect(whileExtended.map((message) => message.messageId)).toEqual([a!.messageId]) // a's 30 s ran out, b is still hidden
    expect(afterExtension).toMatchObject({messageId: b!.messageId, receiveCount: 2})
  })

  it('refuses changeVisibility once the message is no longer in flight, as SQS (MessageNotInflight)', async () => {
    const queue = queueOn({visibilityTimeoutSeconds: 30})
    await queue.enqueue(messages(1))
    const [message] = await queue.receive({max: 1})
    clock.advance(30_000)

    const error = await queue.changeVisibility(message!.receiptHandle, 10).catch((caught: unknown) => caught)
    const stillDeletable = await queue.delete([message!.receiptHandle])

    expect(error).toMatchObject({name: 'ProviderError', code: 'QUEUE_MESSAGE_NOT_IN_FLIGHT', details: {awsCode: 'MessageNotInflight'}})
    expect(stillDeletable.deleted).toEqual([message!.receiptHandle]) // SQS, too, deletes with the latest handle after the timeout
  })

  it('moves a message to the dead-letter table on the receive after maxReceiveCount deliveries, and counts it', async () => {
    const queue = queueOn({maxReceiveCount: 2})
    const [original] = messages(1)
    const sent = await queue.enqueue([original!])

    const counts: number[] = []
    for (let i = 0; i < 2; i++) {
      const [message] = await queue.receive({max: 1})
      counts.push(message!.receiveCount)
      clock.advance(1000)
      await queue.changeVisibility(message!.receiptHandle, 0) // a failed attempt
    }
    const third = await queue.receive({max: 1})
    const depth = await queue.depth()
    const dead = await queue.listDeadLetters()

    expect(counts).toEqual([1, 2])
    expect(third).toEqual([])
    expect(depth).toEqual({visible: 0, inFlight: 0, delayed: 0, deadLetter: 1})
    expect(dead).toEqual([
      {
        messageId: sent.sent[0]!.messageId,
        body: original!.body,
        attributes: original!.attributes,
        md5OfBody: md5OfBody(original!.body),
        receiveCount: 2,
        sentTimestamp: START,
        firstReceiveTimestamp: START,
        deadLetteredAt: START + 2000,
        reason: 'maxReceiveCount',
      },
    ])
  })

  it('does not cut a batch short when its first candidates are dead-lettered', async () => {
    const queue = queueOn({maxReceiveCount: 1})
    await queue.enqueue(messages(3, 'old'))
    for (const message of await queue.receive({max: 10})) await queue.changeVisibility(message.receiptHandle, 0)
    clock.advance(1)
    const fresh = await queue.enqueue(messages(1, 'new'))

    const received = await queue.receive({max: 1})

    expect(received.map((message) => message.messageId)).toEqual([fresh.sent[0]!.messageId])
    expect(await queue.depth()).toEqual({visible: 0, inFlight: 1, delayed: 0, deadLetter: 3})
  })

  it('redrives dead letters back with receive count 0, by id or all, and reports unknown ids', async () => {
    const queue = queueOn({maxReceiveCount: 1})
    const sent = await queue.enqueue(messages(3))
    for (const message of await queue.receive({max: 10})) await queue.changeVisibility(message.receiptHandle, 0)
    expect(await queue.receive({max: 10})).toEqual([])
    const [first, second, third] = sent.sent.map((entry) => entry.messageId)

    const one = await queue.redriveDeadLetters([first!, 'no-such-id'])
    const afterOne = await queue.depth()
    const rest = await queue.redriveDeadLetters()
    const received = await queue.receive({max: 10})

    expect(one).toEqual({redriven: [first], notFound: ['no-such-id']})
    expect(afterOne).toEqual({visible: 1, inFlight: 0, delayed: 0, deadLetter: 2})
    expect(rest.redriven.sort()).toEqual([second, third].sort())
    expect(received.map((message) => message.messageId).sort()).toEqual([first, second, third].sort())
    expect(received.map((message) => message.receiveCount)).toEqual([1, 1, 1])
    expect(await queue.listDeadLetters()).toEqual([])
  })

  it('honours delaySeconds, and a long poll wakes when the delayed message becomes visible', async () => {
    const queue = queueOn()
    const sent = await queue.enqueue([{id: 'later', body: 'later', delaySeconds: 10}, {id: 'now', body: 'now'}])

    const first = await queue.receive({max: 10})
    const depth = await queue.depth()
    const polled = await queue.receive({max: 10, waitSeconds: 20})

    expect(first.map((message) => message.body)).toEqual(['now'])
    expect(depth).toEqual({visible: 0, inFlight: 1, delayed: 1, deadLetter: 0})
    expect(polled.map((message) => message.messageId)).toEqual([sent.sent[0]!.messageId])
    expect(clock.time).toBe(START + 10_000) // slept until the delay ended, not the whole 20 s wait
  })

  it('long-polls an empty queue for the whole wait in short sleeps, then returns nothing', async () => {
    const queue = queueOn({pollIntervalMs: 100})

    const received = await queue.receive({max: 10, waitSeconds: 2})

    expect(received).toEqual([])
    expect(clock.time).toBe(START + 2000)
    expect(clock.sleeps.every((ms) => ms <= 100)).toBe(true)
    expect(clock.sleeps.length).toBe(20)
  })

  it('keeps queues that share the tables apart', async () => {
    const a = queueOn({queueName: 'queue-a'})
    const b = queueOn({queueName: 'queue-b'})
    await a.enqueue(messages(2))
    await b.enqueue(messages(1))

    const fromA = await a.receive({max: 10})
    const crossDelete = await b.delete([fromA[0]!.receiptHandle])
    const crossChange = await b.changeVisibility(fromA[0]!.receiptHandle, 0).catch((error: unknown) => error)

    expect(fromA).toHaveLength(2)
    expect(crossDelete.failed.map((failure) => failure.code)).toEqual(['ReceiptHandleIsInvalid'])
    expect(crossChange).toMatchObject({details: {awsCode: 'ReceiptHandleIsInvalid'}})
    expect(await a.depth()).toEqual({visible: 0, inFlight: 2, delayed: 0, deadLetter: 0})
    expect(await b.depth()).toEqual({visible: 1, inFlight: 0, delayed: 0, deadLetter: 0})
  })

  it('reports malformed, unknown and duplicate receipt handles per handle', async () => {
    const queue = queueOn()
    await queue.enqueue(messages(1))
    const [message] = await queue.receive({max: 1})

    const result = await queue.delete([message!.receiptHandle, 'not-a-handle', `${message!.messageId}.${'0'.repeat(32)}`, message!.receiptHandle])

    expect(result.deleted).toEqual([message!.receiptHandle, message!.receiptHandle])
    expect(result.failed.map((failure) => [failure.receiptHandle, failure.code])).toEqual([
      ['not-a-handle', 'ReceiptHandleIsInvalid'],
      [`${message!.messageId}.${'0'.repeat(32)}`, 'ReceiptHandleIsInvalid'],
    ])
  })

  it('enqueues a 1,000-message campaign in one call, split across multi-row inserts', async () => {
    const queue = queueOn()

    const result = await queue.enqueue(messages(1000))

    expect(result.failed).toEqual([])
    expect(result.sent).toHaveLength(1000)
    expect(new Set(result.sent.map((entry) => entry.messageId)).size).toBe(1000)
    expect(await queue.depth()).toEqual({visible: 1000, inFlight: 0, delayed: 0, deadLetter: 0})
  })

  it('refuses what SQS refuses per message and still queues the rest', async () => {
    const queue = queueOn()
    const batch: QueueMessage[] = [
      {id: 'ok', body: 'fine'},
      {id: 'emoji', body: 'ok 🚀 ünïcødé'},
      {id: 'nul', body: 'bad \u0000 body'},
      {id: 'lone-surrogate', body: 'bad \ud83d body'},
      {id: 'too-big', body: 'x'.repeat(256 * 1024 + 1)},
      {id: 'delay', body: 'x', delaySeconds: 901},
      {id: 'empty', body: ''},
      {id: 'reserved-attribute', body: 'x', attributes: {'AWS.trace': 'x'}},
      {id: 'empty-attribute', body: 'x', attributes: {tenantId: ''}},
    ]

    const result = await queue.enqueue(batch)
    const received = await queue.receive({max: 10})

    expect(result.sent.map((entry) => entry.id)).toEqual(['ok', 'emoji'])
    expect(result.failed.map((failure) => [failure.id, failure.code, failure.senderFault, failure.attempts])).toEqual([
      ['nul', 'InvalidMessageContents', true, 0],
      ['lone-surrogate', 'InvalidMessageContents', true, 0],
      ['too-big', 'MESSAGE_TOO_LARGE', true, 0],
      ['delay', 'InvalidParameterValue', true, 0],
      ['empty', 'InvalidParameterValue', true, 0],
      ['reserved-attribute', 'InvalidParameterValue', true, 0],
      ['empty-attribute', 'InvalidParameterValue', true, 0],
    ])
    expect(received.map((message) => message.body).sort()).toEqual(['fine', 'ok 🚀 ünïcødé'])
  })

  it('refuses duplicate ids and bad options before writing anything', async () => {
    const queue = queueOn()

    const duplicate = await queue.enqueue([...messages(2), ...messages(1)]).catch((error: unknown) => error)
    const depth = await queue.depth()

    expect(duplicate).toBeInstanceOf(UsageError)
    expect(duplicate).toMatchObject({code: 'QUEUE_DUPLICATE_ID'})
    expect(depth).toEqual({visible: 0, inFlight: 0, delayed: 0, deadLetter: 0})
    await expect(queue.receive({max: 0})).rejects.toMatchObject({code: 'QUEUE_RECEIVE_MAX_INVALID'})
    await expect(queue.receive({max: 11})).rejects.toBeInstanceOf(UsageError)
    await expect(queue.receive({max: 1, waitSeconds: 21})).rejects.toMatchObject({code: 'QUEUE_WAIT_INVALID'})
    await expect(queue.receive({max: 1, visibilityTimeoutSeconds: -1})).rejects.toMatchObject({code: 'QUEUE_VISIBILITY_INVALID'})
    await expect(queue.changeVisibility('x', 43_201)).rejects.toMatchObject({code: 'QUEUE_VISIBILITY_INVALID'})
    expect(() => queueOn({queueName: 'has spaces'})).toThrow(UsageError)
    expect(() => queueOn({maxReceiveCount: 0})).toThrow(UsageError)
  })

  it('keeps queued and in-flight messages across closing and reopening the database', async () => {
    const queue = queueOn({visibilityTimeoutSeconds: 60})
    const sent = await queue.enqueue(messages(2))
    const [inFlight] = await queue.receive({max: 1})
    await database.close()

    const reopened = await testDatabase.open()
    const queueAgain = new LocalQueue({database: reopened, queueName: 'engageninja-messages-test', now: clock.now, sleep: clock.sleep})
    const depth = await queueAgain.depth()
    const [visible] = await queueAgain.receive({max: 10})
    const deleted = await queueAgain.delete([inFlight!.receiptHandle])

    expect(depth).toEqual({visible: 1, inFlight: 1, delayed: 0, deadLetter: 0})
    expect(visible).toMatchObject({messageId: sent.sent[1]!.messageId, body: messages(2)[1]!.body, receiveCount: 1})
    expect(deleted.deleted).toEqual([inFlight!.receiptHandle])
  })

  it('says to run the migrations when the tables are missing', async () => {
    const bare = await createTestDatabase(dialect)
    try {
      const queue = new LocalQueue({database: await bare.open({create: true})})

      const error = await queue.enqueue(messages(1)).catch((caught: unknown) => caught)

      expect(error).toBeInstanceOf(DatabaseError)
      expect(error).toMatchObject({code: 'LOCAL_QUEUE_TABLES_MISSING', suggestions: [expect.stringContaining('engage migrate up')]})
    } finally {
      await bare.dispose()
    }
  })

  it('migration 0004 down refuses while the queue holds messages, and drops the tables once empty', async () => {
    const queue = queueOn()
    await queue.enqueue(messages(1))

    const refused = await migrator(database).down({to: '0004'})
    const tablesAfterRefusal = await listTables(database.db, dialect)
    const [message] = await queue.receive({max: 1})
    await queue.delete([message!.receiptHandle])
    const reverted = await migrator(database).down({to: '0004'})
    const tablesAfterDown = await listTables(database.db, dialect)
    const reapplied = await migrator(database).up()

    expect(refused.error).toMatchObject({name: 'MigrationError', code: 'LOCAL_QUEUE_NOT_EMPTY', details: {messages: 1, deadLetters: 0}})
    expect(tablesAfterRefusal).toEqual(expect.arrayContaining(['local_queue_messages', 'local_queue_dead_letters']))
    expect(reverted.error).toBeUndefined()
    expect(reverted.results.map((result) => [result.name, result.status])).toEqual([['0004-local-message-queue', 'reverted']])
    expect(tablesAfterDown).not.toContain('local_queue_messages')
    expect(tablesAfterDown).not.toContain('local_queue_dead_letters')
    expect(reapplied.error).toBeUndefined()
    expect(await listTables(database.db, dialect)).toEqual(expect.arrayContaining(['local_queue_messages', 'local_queue_dead_letters']))
  })
})
