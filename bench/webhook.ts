/**
 * Verified Twilio status callbacks per second at `engage serve`'s real
 * POST /webhooks/twilio (strict form parse, tenant token lookup and
 * decryption, signature against WEBHOOK_BASE_URL, applyStatus in a write
 * transaction), beside two floors measured in the same run with the same
 * load generator (bench/support/load-generator.mjs, its own process,
 * keep-alive connections):
 *   - bare: a node:http server answering 200 to everything;
 *   - minimal: a hand-written handler that parses the form, checks the
 *     HMAC-SHA1 signature and inserts one row (better-sqlite3, same pragmas).
 * Target (issue 4): webhook >= 70 % of minimal.
 *
 *   node --import tsx bench/webhook.ts [--seconds 5] [--connections 32] [--dialect sqlite|postgres]
 */
import {spawn} from 'node:child_process'
import {createHmac, timingSafeEqual} from 'node:crypto'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:http'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {silentLogger} from '../src/cli/logger.js'
import {Settings} from '../src/config/env.js'
import type {Dialect} from '../src/db/database.js'
import {startServeApp} from '../src/serve/serve-app.js'
import {mountTwilioWebhook} from '../src/serve/twilio-mount.js'
import {newAuthToken, newSid} from '../src/twilio-sandbox/ids.js'
import {computeTwilioSignature} from '../src/webhooks/twilio-signature.js'
import {openSqlite} from '../src/db/sqlite.js'
import {insertMessages, insertTenant, keyringOf, migratedStore, seedTwilioChannel} from '../test/support/webhook-messages.js'

const PUBLIC_BASE = 'https://hooks.bench.example'
const SIGNED_URL = `${PUBLIC_BASE}/webhooks/twilio`
const GENERATOR = fileURLToPath(new URL('./support/load-generator.mjs', import.meta.url))

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`)
  return at >= 0 && process.argv[at + 1] ? process.argv[at + 1]! : fallback
}

const seconds = Number(option('seconds', '5'))
const connections = Number(option('connections', '32'))
const dialect = option('dialect', 'sqlite') as Dialect
const MESSAGES = 4_000

interface LoadResult {
  requests: number
  /** Every request sent, warm-up included. */
  sent: number
  /** CPU time of this process (the server under test; the load generator is a child) per request sent. */
  serverCpuUsPerRequest?: number
  byStatus: Record<string, number>
  errors: number
  seconds: number
  perSecond: number
  p50Ms: number | null
  p99Ms: number | null
}

/**
 * Runs the load generator against `url`. Besides the rate, reports the server's CPU time per request:
 * on a busy machine the rates swing with what else runs, the CPU cost per request much less.
 */
async function runLoad(url: string, requestsFile: string): Promise<LoadResult> {
  const cpuBefore = process.cpuUsage()
  const result = await generateLoad(url, requestsFile)
  const cpu = process.cpuUsage(cpuBefore)
  return {...result, serverCpuUsPerRequest: (cpu.user + cpu.system) / result.sent}
}

function generateLoad(url: string, requestsFile: string): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [GENERATOR, JSON.stringify({url, connections, durationMs: seconds * 1000, warmupMs: 500, requestsFile})], {stdio: ['ignore', 'pipe', 'inherit']})
    let out = ''
    child.stdout.on('data', (chunk) => (out += chunk))
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as LoadResult) : reject(new Error(`load generator exited ${code}`))))
  })
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as {port: number}).port}/webhooks/twilio`)))
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  })
}

/** The minimal handler: form parse, HMAC-SHA1 over URL + sorted params, one INSERT. */
async function startMinimal(dir: string, authToken: string): Promise<{url: string; server: Server; rows: () => number; stop: () => Promise<void>}> {
  const sqlite = await openSqlite(join(dir, 'minimal.db'), {create: true})
  sqlite.exec('CREATE TABLE callbacks (id INTEGER PRIMARY KEY, message_sid TEXT NOT NULL, status TEXT NOT NULL, params TEXT NOT NULL, received_at TEXT NOT NULL)')
  const insert = sqlite.prepare('INSERT INTO callbacks (message_sid, status, params, received_at) VALUES (?, ?, ?, ?)')
  const server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const params = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')))
      const data = Object.keys(params).sort().reduce((text, key) => text + key + params[key], SIGNED_URL)
      const expected = createHmac('sha1', authToken).update(data, 'utf8').digest()
      const given = Buffer.from(String(request.headers['x-twilio-signature'] ?? ''), 'base64')
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        response.writeHead(403).end()
        return
      }
      insert.run(params.MessageSid, params.MessageStatus, JSON.stringify(params), new Date().toISOString())
      response.writeHead(200, {'content-type': 'text/xml'}).end('<?xml version="1.0" encoding="UTF-8"?><Response/>')
    })
  })
  const url = await listen(server)
  return {url, server, rows: () => Number((sqlite.prepare('SELECT count(*) AS n FROM callbacks').get() as {n: number}).n), stop: async () => {
    await close(server)
    sqlite.close()
  }}
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'engage-bench-webhook-'))
  const store = await migratedStore(dialect)
  try {
    const {database, encryptionKey} = store
    const keyring = keyringOf(encryptionKey)
    const accountSid = newSid('AC')
    const authToken = newAuthToken()
    await insertTenant(database, 'ten_bench')
    await seedTwilioChannel(database, keyring, {tenantId: 'ten_bench', channel: 'sms', accountSid, authToken, serviceSid: newSid('MG'), webhookUrl: SIGNED_URL})
    const sids = Array.from({length: MESSAGES}, () => newSid('SM'))
    for (let start = 0; start < MESSAGES; start += 500) {
      await insertMessages(
        database,
        sids.slice(start, start + 500).map((sid, index) => ({id: `bench-${start + index}`, tenantId: 'ten_bench', status: 'sent', providerMessageId: sid})),
      )
    }
    // Genuine callbacks, as Twilio signs them: each message's delivered then read-receipt-less duplicates.
    const requests = sids.flatMap((sid) =>
      ['delivered', 'delivered'].map((status) => {
        const params = {AccountSid: accountSid, ApiVersion: '2010-04-01', From: '+15005550006', MessageSid: sid, MessageStatus: status, SmsSid: sid, SmsStatus: status, To: '+15551230000', RawDlrDoneDate: '2612041200'}
        return {headers: {'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': computeTwilioSignature(authToken, SIGNED_URL, params)}, body: new URLSearchParams(params).toString()}
      }),
    )
    const requestsFile = join(dir, 'requests.json')
    writeFileSync(requestsFile, JSON.stringify(requests))

    const results: Record<string, LoadResult> = {}

    const bare = createServer((request, response) => {
      request.resume()
      request.on('end', () => response.writeHead(200).end())
    })
    results.bare = await runLoad(await listen(bare), requestsFile)
    await close(bare)

    const minimal = await startMinimal(dir, authToken)
    results.minimal = await runLoad(minimal.url, requestsFile)
    const minimalRows = minimal.rows()
    await minimal.stop()

    const settings = new Settings({ENCRYPTION_KEY: encryptionKey, WEBHOOK_BASE_URL: PUBLIC_BASE}, {})
    const serve = await startServeApp({database, twilioWebhook: (serverUrl) => mountTwilioWebhook({database, settings, logger: silentLogger, serverUrl}), logger: silentLogger})
    const eventsBefore = await countEvents()
    results.webhook = await runLoad(serve.urls.twilioWebhook, requestsFile)
    const eventsWritten = (await countEvents()) - eventsBefore
    await serve.stop()

    async function countEvents(): Promise<number> {
      return Number((await database.db.selectFrom('message_status_events').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n)
    }

    console.log(`bench/webhook (${dialect} for the webhook; minimal handler on SQLite) — ${connections} keep-alive connections, ${seconds} s each, node ${process.version}`)
    for (const [name, result] of Object.entries(results)) {
      console.log(
        `  ${name.padEnd(8)} ${result.perSecond.toFixed(0).padStart(7)} req/s  server CPU ${result.serverCpuUsPerRequest?.toFixed(1).padStart(5)} µs/req  p50 ${result.p50Ms?.toFixed(2)} ms  p99 ${result.p99Ms?.toFixed(2)} ms  statuses ${JSON.stringify(result.byStatus)}  errors ${result.errors}`,
      )
    }
    console.log(`  minimal handler rows inserted: ${minimalRows}; webhook status events written: ${eventsWritten}`)
    const ratio = results.webhook!.perSecond / results.minimal!.perSecond
    console.log(`  webhook / minimal = ${(ratio * 100).toFixed(1)} % (target >= 70 %): ${ratio >= 0.7 ? 'MET' : 'MISSED'}`)
    console.log(`  minimal / bare    = ${((results.minimal!.perSecond / results.bare!.perSecond) * 100).toFixed(1)} %`)
    console.log(`  server CPU per request, minimal / webhook = ${((results.minimal!.serverCpuUsPerRequest! / results.webhook!.serverCpuUsPerRequest!) * 100).toFixed(1)} % (the rate ratio if the server's CPU were the only limit)`)
  } finally {
    await store.dispose()
    rmSync(dir, {recursive: true, force: true})
  }
}

await main()
