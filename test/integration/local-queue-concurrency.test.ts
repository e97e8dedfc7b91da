import {spawn} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {silentLogger} from '../../src/cli/logger.js'
import {Settings} from '../../src/config/env.js'
import type {Database} from '../../src/db/database.js'
import {createMigrator} from '../../src/migrate/migrator.js'
import {LocalQueue} from '../../src/queue/local/local-queue.js'
import {createTestDatabase, DIALECTS, type TestDatabase} from '../support/databases.js'
import {PROJECT_ROOT} from '../support/run-cli.js'

const QUEUE = 'engageninja-messages-race'
const MESSAGES = 500

/**
 * A consumer as `engage worker` will be one: its own process and its own
 * connection, receiving batches of 10, doing a little work, deleting. It
 * waits for "go" on stdin so that both consumers start racing together,
 * stops after three empty receives in a row, and prints what it got.
 */
const CONSUMER = (root: string) => `
import {openDatabase} from ${JSON.stringify(pathToFileURL(join(root, 'src/db/database.ts')).href)}
import {LocalQueue} from ${JSON.stringify(pathToFileURL(join(root, 'src/queue/local/local-queue.ts')).href)}
const [url, queueName] = process.argv.slice(2)
const database = await openDatabase(url)
const queue = new LocalQueue({database, queueName, visibilityTimeoutSeconds: 60})
process.stdout.write('ready\\n')
await new Promise((resolve) => process.stdin.once('data', resolve))
const received = []
const failedDeletes = []
let empty = 0
while (empty < 3) {
  const batch = await queue.receive({max: 10})
  if (batch.length === 0) {
    empty++
    await new Promise((resolve) => setTimeout(resolve, 20))
    continue
  }
  empty = 0
  for (const message of batch) received.push({id: message.messageId, receiveCount: message.receiveCount})
  await new Promise((resolve) => setTimeout(resolve, 1))
  const result = await queue.delete(batch.map((message) => message.receiptHandle))
  failedDeletes.push(...result.failed.map((failure) => failure.code))
}
await database.close()
process.stdout.write(JSON.stringify({received, failedDeletes}) + '\\n')
`

interface ConsumerOutput {
  received: Array<{id: string; receiveCount: number}>
  failedDeletes: string[]
}

function startConsumer(script: string, url: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', script, url, QUEUE], {cwd: PROJECT_ROOT, stdio: ['pipe', 'pipe', 'pipe']})
  let stdout = ''
  let stderr = ''
  child.stderr.on('data', (chunk) => (stderr += chunk))
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      stdout += chunk
      if (stdout.startsWith('ready\n')) resolve()
    })
    child.on('exit', (code) => reject(new Error(`consumer exited (${code}) before it was ready: ${stderr}`)))
  })
  const done = new Promise<ConsumerOutput>((resolve, reject) => {
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`consumer exited with ${code}: ${stderr}`))
      resolve(JSON.parse(stdout.slice('ready\n'.length)) as ConsumerOutput)
    })
  })
  // Whichever of the two the test is not awaiting when the child dies must not surface as an unhandled rejection.
  ready.catch(() => {})
  done.catch(() => {})
  return {child, ready, done, go: () => child.stdin.end('go\n')}
}

describe.each(DIALECTS)('LocalQueue with two consumer processes on %s', (dialect) => {
  let testDatabase: TestDatabase
  let database: Database

  beforeEach(async () => {
    testDatabase = await createTestDatabase(dialect)
    database = await testDatabase.open({create: true})
    const run = await createMigrator({database, settings: new Settings({ENCRYPTION_KEY: '5a'.repeat(32)}, {}), logger: silentLogger}).up()
    expect(run.error).toBeUndefined()
  })
  afterEach(async () => {
    await testDatabase.dispose()
  })

  it(`delivers each of ${MESSAGES} messages exactly once to two racing consumers`, async () => {
    const queue = new LocalQueue({database, queueName: QUEUE})
    const sent = await queue.enqueue(
      Array.from({length: MESSAGES}, (_, i) => ({id: `m${i}`, body: JSON.stringify({n: i}), attributes: {campaignId: '42'}})),
    )
    // .mts: the temp folder has no package.json saying ESM, and the script uses top-level await.
    const script = join(testDatabase.dir, 'consumer.mts')
    writeFileSync(script, CONSUMER(PROJECT_ROOT))
    const consumers = [startConsumer(script, testDatabase.url), startConsumer(script, testDatabase.url)]

    let outputs: ConsumerOutput[]
    try {
      await Promise.all(consumers.map((consumer) => consumer.ready))
      for (const consumer of consumers) consumer.go()
      outputs = await Promise.all(consumers.map((consumer) => consumer.done))
    } finally {
      for (const consumer of consumers) if (consumer.child.exitCode === null) consumer.child.kill('SIGKILL')
    }

    const all = outputs.flatMap((output) => output.received)
    const ids = all.map((message) => message.id)
    expect(sent.failed).toEqual([])
    expect(ids).toHaveLength(MESSAGES)
    expect(new Set(ids).size).toBe(MESSAGES)
    expect(new Set(ids)).toEqual(new Set(sent.sent.map((entry) => entry.messageId)))
    expect(all.every((message) => message.receiveCount === 1)).toBe(true)
    expect(outputs.map((output) => output.failedDeletes)).toEqual([[], []])
    // Both took part: otherwise this would not have been a race at all.
    expect(outputs.map((output) => output.received.length > 0)).toEqual([true, true])
    expect(await queue.depth()).toEqual({visible: 0, inFlight: 0, delayed: 0, deadLetter: 0})
  })
})
