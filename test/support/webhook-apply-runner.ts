/**
 * A separate process that records statuses through applyStatus, so tests can
 * race writers that do not share a connection or an event loop (SQLite's
 * BEGIN IMMEDIATE across processes, PostgreSQL's row locks across pools).
 *
 *   node --import tsx test/support/webhook-apply-runner.ts DATABASE_URL JSON_UPDATES
 *
 * Prints the outcomes as JSON on stdout.
 */
import {openDatabase} from '../../src/db/database.js'
import {applyStatus, type StatusUpdate} from '../../src/messages/index.js'

const [url, json] = process.argv.slice(2)
if (!url || !json) throw new Error('usage: webhook-apply-runner.ts DATABASE_URL JSON_UPDATES')
const updates = JSON.parse(json) as StatusUpdate[]
const database = await openDatabase(url, {busyTimeoutMs: 30_000})
try {
  const results = await Promise.all(updates.map((update) => applyStatus(database, update)))
  process.stdout.write(JSON.stringify(results) + '\n')
} finally {
  await database.close()
}
