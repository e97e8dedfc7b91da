/**
 * Local queue throughput (src/queue/local/local-queue.ts) on SQLite and
 * PostgreSQL: a 1,000-message enqueue, and receive(10) + delete cycles
 * draining 10,000 messages. On SQLite it also times the same claim + delete
 * as raw better-sqlite3 prepared statements, to show what Kysely costs.
 *
 *   node --import tsx bench/queue-local.ts [sqlite|postgres ...]
 */
import {silentLogger} from '../src/cli/logger.js'
import {Settings} from '../src/config/env.js'
import type {Database, Dialect} from '../src/db/database.js'
import {createMigrator} from '../src/migrate/migrator.js'
import {LocalQueue} from '../src/queue/local/local-queue.js'
import type {QueueMessage} from '../src/queue/message-queue.js'
import {createTestDatabase} from '../test/support/databases.js'
import {median} from './support/median.js'

const ENQUEUE_BATCH = 1000
const DRAIN = 10_000

function campaignMessages(count: number, offset = 0): QueueMessage[] {
  return Array.from({length: count}, (_, i) => ({
    id: `m${offset + i}`,
    body: JSON.stringify({tenantId: 7, campaignId: 42, messageId: offset + i, channel: 'sms', to: '+15551230000', text: 'Hello from the bench 🚀'}),
    attributes: {tenantId: '7', campaignId: '42', channel: 'sms'},
  }))
}

const fmt = (n: number) => n.toLocaleString('en-US', {maximumFractionDigits: 1})

async function withDatabase(dialect: Dialect, work: (database: Database) => Promise<void>): Promise<void> {
  const testDatabase = await createTestDatabase(dialect)
  try {
    const database = await testDatabase.open({create: true})
    const settings = new Settings({ENCRYPTION_KEY: '11'.repeat(32)}, {})
    const run = await createMigrator({database, settings, logger: silentLogger}).up()
    if (run.error) throw run.error
    await work(database)
  } finally {
    await testDatabase.dispose()
  }
}

async function benchQueue(dialect: Dialect, database: Database): Promise<void> {
  const queue = new LocalQueue({database, queueName: `bench-${dialect}`})
  const enqueueMs: number[] = []
  for (let round = 0; round < DRAIN / ENQUEUE_BATCH; round++) {
    const batch = campaignMessages(ENQUEUE_BATCH, round * ENQUEUE_BATCH)
    const started = performance.now()
    const result = await queue.enqueue(batch)
    enqueueMs.push(performance.now() - started)
    if (result.sent.length !== ENQUEUE_BATCH) throw new Error(`enqueue refused ${result.failed.length} messages`)
  }
  console.log(`${dialect}: enqueue ${ENQUEUE_BATCH} messages: median ${fmt(median(enqueueMs))} ms (${fmt(ENQUEUE_BATCH / (median(enqueueMs) / 1000))} msg/s), ${enqueueMs.length} rounds`)

  let received = 0
  let batches = 0
  const receiveUs: number[] = []
  const deleteUs: number[] = []
  const started = performance.now()
  for (;;) {
    const t0 = performance.now()
    const messages = await queue.receive({max: 10})
    const t1 = performance.now()
    if (messages.length === 0) break
    const result = await queue.delete(messages.map((message) => message.receiptHandle))
    const t2 = performance.now()
    if (result.failed.length > 0) throw new Error(`delete failed for ${result.failed.length}`)
    received += messages.length
    batches++
    receiveUs.push((t1 - t0) * 1000)
    deleteUs.push((t2 - t1) * 1000)
  }
  const seconds = (performance.now() - started) / 1000
  if (received !== DRAIN) throw new Error(`drained ${received} of ${DRAIN}`)
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length
  console.log(
    `${dialect}: receive(10)+delete: ${fmt(received / seconds)} msg/s, ${fmt(batches / seconds)} batches/s; per batch of 10: ` +
      `receive median ${fmt(median(receiveUs))} µs (mean ${fmt(mean(receiveUs))}), delete median ${fmt(median(deleteUs))} µs (mean ${fmt(mean(deleteUs))})`,
  )
}

/** The same claim + delete as bare prepared statements: the floor Kysely is measured against. */
async function benchRawSqlite(database: Database): Promise<void> {
  const queue = new LocalQueue({database, queueName: 'bench-raw'})
  for (let round = 0; round < DRAIN / ENQUEUE_BATCH; round++) await queue.enqueue(campaignMessages(ENQUEUE_BATCH, round * ENQUEUE_BATCH))
  const handle = database.sqlite!
  const claim = handle.prepare(`UPDATE local_queue_messages
    SET receive_count = receive_count + 1, receipt_handle = id || '.' || lower(hex(randomblob(16))),
        visible_at = ?, first_received_at = COALESCE(first_received_at, ?)
    WHERE id IN (SELECT id FROM local_queue_messages WHERE queue_name = ? AND visible_at <= ? ORDER BY visible_at, sent_at LIMIT 10)
    RETURNING id, body, attributes_json, md5_of_body, sent_at, receive_count, first_received_at, receipt_handle`)
  const begin = handle.prepare('BEGIN IMMEDIATE')
  const commit = handle.prepare('COMMIT')
  const started = performance.now()
  let received = 0
  for (;;) {
    const now = Date.now()
    begin.run()
    const rows = claim.all(now + 30_000, now, 'bench-raw', now) as Array<{id: string; receipt_handle: string}>
    commit.run()
    if (rows.length === 0) break
    const placeholders = rows.map(() => '?').join(', ')
    handle
      .prepare(`DELETE FROM local_queue_messages WHERE +queue_name = ? AND id IN (${placeholders}) AND receipt_handle IN (${placeholders}) RETURNING receipt_handle`)
      .all('bench-raw', ...rows.map((row) => row.id), ...rows.map((row) => row.receipt_handle))
    received += rows.length
  }
  const seconds = (performance.now() - started) / 1000
  console.log(`sqlite (raw better-sqlite3, no Kysely, no row mapping): receive(10)+delete: ${fmt(received / seconds)} msg/s`)
}

const wanted = (process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['sqlite', 'postgres']) as Dialect[]
for (const dialect of wanted) {
  await withDatabase(dialect, async (database) => {
    await benchQueue(dialect, database)
    if (dialect === 'sqlite') await benchRawSqlite(database)
  })
}
