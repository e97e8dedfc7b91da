import {spawn, type ChildProcess} from 'node:child_process'
import {once} from 'node:events'
import {join} from 'node:path'
import {sql} from 'kysely'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import type {Database} from '../../src/db/database.js'
import {LocalQueue} from '../../src/queue/local/local-queue.js'
import type {SqsEventRecord} from '../../src/queue/message-queue.js'
import {runWorker, type BatchHandler} from '../../src/worker/worker-loop.js'
import {DIALECTS, type TestDatabase} from '../support/databases.js'
import {PROJECT_ROOT} from '../support/run-cli.js'
import {migratedDatabase} from '../support/seed-fixtures.js'

const SOURCE = {queueArn: 'arn:aws:sqs:local:000000000000:test', awsRegion: 'local'}

/**
 * A worker in its own process, so it can be signalled and killed for real:
 * the loop and the signal handling `engage worker` uses, around a handler
 * that announces each batch on stdout, takes HANDLER_MS, then records each
 * record in `worker_test_processed` (message id, body, receive count) and
 * reports success. It prints its summary as JSON when the loop returns.
 */
const CHILD = `
const {openDatabase} = await import(${JSON.stringify(join(PROJECT_ROOT, 'src/db/database.ts'))})
const {LocalQueue} = await import(${JSON.stringify(join(PROJECT_ROOT, 'src/queue/local/local-queue.ts'))})
const {runWorker} = await import(${JSON.stringify(join(PROJECT_ROOT, 'src/worker/worker-loop.ts'))})
const {stopOnSignals} = await import(${JSON.stringify(join(PROJECT_ROOT, 'src/worker/stop-signals.ts'))})
const {createLogger} = await import(${JSON.stringify(join(PROJECT_ROOT, 'src/cli/logger.ts'))})
const env = process.env
const database = await openDatabase(env.DB_URL)
const queueName = env.QUEUE_NAME
const visibility = Number(env.VISIBILITY)
const queue = new LocalQueue({database, queueName, visibilityTimeoutSeconds: visibility})
const logger = createLogger('info')
const handler = async (event) => {
  process.stdout.write('batch ' + event.Records.map((r) => r.body).join(',') + '\\n')
  await new Promise((resolve) => setTimeout(resolve, Number(env.HANDLER_MS)))
  for (const record of event.Records) {
    await database.db.insertInto('worker_test_processed').values({
      queue_name: queueName, body: record.body, receive_count: Number(record.attributes.ApproximateReceiveCount), pid: process.pid,
    }).execute()
  }
  return {batchItemFailures: []}
}
const {controller, dispose} = stopOnSignals({logger, onForce: () => process.exit(130)})
const summary = await runWorker({queue, source: {queueArn: 'arn:test', awsRegion: 'local'}, handler, batchSize: Number(env.BATCH),
  visibilityTimeoutSeconds: visibility, drain: env.DRAIN === '1', signal: controller.signal, logger, waitSeconds: 1})
dispose()
process.stdout.write('summary ' + JSON.stringify(summary) + '\\n')
await database.close()
`

interface Child {
  process: ChildProcess
  stdout: string
  /** Resolves when stdout has a line starting with `prefix`. */
  waitFor(prefix: string): Promise<string>
  exit: Promise<{code: number | null; signal: NodeJS.Signals | null}>
}

function startChildWorker(env: Record<string, string>): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CHILD], {
    cwd: PROJECT_ROOT,
    env: {PATH: process.env.PATH, HOME: process.env.HOME, ...env} as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const state: Child = {
    process: child,
    stdout: '',
    waitFor: (prefix) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const line = state.stdout.split('\n').find((candidate) => candidate.startsWith(prefix))
          if (line !== undefined) {
            child.stdout!.off('data', check)
            resolve(line)
          }
        }
        child.stdout!.on('data', check)
        child.once('exit', () => reject(new Error(`worker exited before printing "${prefix}": ${state.stdout}${stderr}`)))
        check()
      }),
    exit: once(child, 'exit').then(([code, signal]) => ({code: code as number | null, signal: signal as NodeJS.Signals | null})),
  }
  let stderr = ''
  child.stdout!.on('data', (chunk: Buffer) => (state.stdout += chunk.toString()))
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  return state
}

describe.each(DIALECTS)('worker loop (%s)', (dialect) => {
  let testDb: TestDatabase
  let database: Database
  let queueName: string
  let counter = 0

  beforeAll(async () => {
    testDb = await migratedDatabase(dialect)
    database = await testDb.open()
    await sql`CREATE TABLE worker_test_processed (queue_name TEXT NOT NULL, body TEXT NOT NULL, receive_count INTEGER NOT NULL, pid INTEGER NOT NULL)`.execute(database.db)
  })
  afterAll(async () => {
    await testDb?.dispose()
  })
  beforeEach(() => {
    // Each test has its own queue in the shared tables.
    queueName = `worker-test-${++counter}`
  })

  const queueOf = (visibilityTimeoutSeconds = 30) => new LocalQueue({database, queueName, visibilityTimeoutSeconds})
  const enqueue = async (bodies: string[]) => {
    const result = await queueOf().enqueue(bodies.map((body) => ({id: body, body, attributes: {kind: 'test'}})))
    expect(result.failed).toEqual([])
  }
  const bodies = (n: number) => Array.from({length: n}, (_, i) => `m${String(i).padStart(3, '0')}`)
  const processedRows = async () =>
    (await database.db.selectFrom('worker_test_processed').select(['body', 'receive_count', 'pid']).where('queue_name', '=', queueName).execute()).map((row) => ({
      body: row.body as string,
      receiveCount: Number(row.receive_count),
      pid: Number(row.pid),
    }))

  it('hands SQS-shaped batches to the handler, deletes what succeeded, retries what failed, and drains', async () => {
    await enqueue(bodies(23))
    const calls: SqsEventRecord[][] = []
    const handler: BatchHandler = async (event) => {
      calls.push(event.Records)
      // m007 fails on its first delivery, as a throttled send would.
      const failing = event.Records.filter((record) => record.body === 'm007' && record.attributes.ApproximateReceiveCount === '1')
      return {batchItemFailures: failing.map((record) => ({itemIdentifier: record.messageId}))}
    }

    const summary = await runWorker({queue: queueOf(1), source: SOURCE, handler, batchSize: 10, visibilityTimeoutSeconds: 1, drain: true, waitSeconds: 0, idleDelayMs: 50})

    expect(summary).toMatchObject({stoppedBy: 'drain', received: 24, succeeded: 23, failed: 1, deleted: 23, deleteFailed: 0, handlerErrors: 0})
    const records = calls.flat()
    expect(calls.every((batch) => batch.length <= 10)).toBe(true)
    expect(records.map((record) => record.body).sort()).toEqual([...bodies(23), 'm007'].sort())
    expect(records[0]).toMatchObject({eventSource: 'aws:sqs', eventSourceARN: SOURCE.queueArn, awsRegion: 'local', messageAttributes: {kind: {stringValue: 'test', dataType: 'String'}}})
    expect(records.filter((record) => record.body === 'm007').map((record) => record.attributes.ApproximateReceiveCount)).toEqual(['1', '2'])
    expect(await queueOf().depth()).toMatchObject({visible: 0, inFlight: 0, delayed: 0})
  })

  it('a handler that throws, or names a record not in the batch, has the whole batch retried', async () => {
    await enqueue(bodies(4))
    let call = 0
    const handler: BatchHandler = async (event) => {
      call++
      if (call === 1) throw new Error('database went away')
      if (call === 2) return {batchItemFailures: [{itemIdentifier: 'not-in-this-batch'}]}
      return {batchItemFailures: []}
    }

    // Failed records are visible again at once, so each retry receives the same four together.
    const summary = await runWorker({queue: queueOf(1), source: SOURCE, handler, batchSize: 10, retryDelaySeconds: () => 0, drain: true, waitSeconds: 0, idleDelayMs: 50})

    expect(call).toBe(3)
    expect(summary).toMatchObject({stoppedBy: 'drain', received: 12, succeeded: 4, failed: 8, deleted: 4, handlerErrors: 1})
  })

  it('an aborted signal stops receiving: an empty, idle worker returns at once', async () => {
    const controller = new AbortController()
    const handler: BatchHandler = async () => ({batchItemFailures: []})
    const running = runWorker({queue: queueOf(), source: SOURCE, handler, waitSeconds: 1, signal: controller.signal})
    controller.abort()

    expect(await running).toMatchObject({stoppedBy: 'signal', received: 0})
  })

  it('an idle worker that does not long-poll still lets timers run, so a timed stop is heard', async () => {
    const controller = new AbortController()
    const handler: BatchHandler = async () => ({batchItemFailures: []})
    let ticks = 0
    const ticker = setInterval(() => ticks++, 10)
    setTimeout(() => controller.abort(), 300)
    try {
      const summary = await runWorker({queue: queueOf(), source: SOURCE, handler, waitSeconds: 0, idleDelayMs: 20, signal: controller.signal})
      expect(summary).toMatchObject({stoppedBy: 'signal', received: 0})
    } finally {
      clearInterval(ticker)
    }
    expect(ticks).toBeGreaterThan(0)
  })

  it('SIGTERM while a slow batch is in the handler: the batch is finished and deleted, then exit 0', async () => {
    await enqueue(bodies(5))
    const worker = startChildWorker({DB_URL: testDb.url, QUEUE_NAME: queueName, VISIBILITY: '30', HANDLER_MS: '2000', BATCH: '10', DRAIN: '0'})

    const batch = await worker.waitFor('batch ')
    worker.process.kill('SIGTERM')
    const exit = await worker.exit

    expect(batch.split(' ')[1]!.split(',').sort()).toEqual(bodies(5))
    expect(exit).toEqual({code: 0, signal: null})
    const summary = JSON.parse(worker.stdout.split('\n').find((line) => line.startsWith('summary '))!.slice('summary '.length))
    expect(summary).toMatchObject({stoppedBy: 'signal', received: 5, succeeded: 5, deleted: 5})
    expect((await processedRows()).map((row) => row.body).sort()).toEqual(bodies(5))
    expect(await queueOf().depth()).toMatchObject({visible: 0, inFlight: 0})
  })

  it('SIGKILL mid-batch, then a new worker: the unfinished messages reappear after the visibility timeout and are processed, none lost', async () => {
    await enqueue(bodies(6))
    const first = startChildWorker({DB_URL: testDb.url, QUEUE_NAME: queueName, VISIBILITY: '2', HANDLER_MS: '60000', BATCH: '3', DRAIN: '0'})
    const killedBatch = (await first.waitFor('batch ')).split(' ')[1]!.split(',')
    first.process.kill('SIGKILL')
    expect(await first.exit).toEqual({code: null, signal: 'SIGKILL'})
    expect(await processedRows()).toEqual([])
    expect((await queueOf().depth()).inFlight).toBe(3)

    const second = startChildWorker({DB_URL: testDb.url, QUEUE_NAME: queueName, VISIBILITY: '2', HANDLER_MS: '0', BATCH: '3', DRAIN: '1'})
    const exit = await second.exit

    expect(exit).toEqual({code: 0, signal: null})
    const rows = await processedRows()
    expect(rows.map((row) => row.body).sort()).toEqual(bodies(6))
    expect(rows.every((row) => row.pid === second.process.pid)).toBe(true)
    // The killed worker's batch was delivered a second time; the rest once.
    for (const row of rows) expect(row.receiveCount).toBe(killedBatch.includes(row.body) ? 2 : 1)
    expect(await queueOf().depth()).toMatchObject({visible: 0, inFlight: 0, deadLetter: 0})
  })

  it('--drain on an empty queue exits 0 at once', async () => {
    const worker = startChildWorker({DB_URL: testDb.url, QUEUE_NAME: queueName, VISIBILITY: '2', HANDLER_MS: '0', BATCH: '10', DRAIN: '1'})

    expect(await worker.exit).toEqual({code: 0, signal: null})
    expect(worker.stdout).toContain('"stoppedBy":"drain"')
  })
})
