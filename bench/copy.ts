/**
 * `engage db copy` on a generated SQLite database (default 1,000,000
 * messages, plus the tenants, campaigns and contacts they reference),
 * migrated by the engine, into a fresh migrated PostgreSQL database; beside
 * PostgreSQL's own `COPY messages FROM STDIN` (psql `\copy` of a CSV exported
 * from the same SQLite rows) into another fresh migrated database, in the
 * same run. Prints rows/s for both and their ratio; no assertions.
 * Target: db copy within 2× of bare COPY.
 *
 *   node --import tsx bench/copy.ts [--messages 1000000] [--batch-size 5000]
 */
import {execFileSync} from 'node:child_process'
import {createWriteStream} from 'node:fs'
import {cpus, loadavg} from 'node:os'
import {join} from 'node:path'
import {once} from 'node:events'
import type BetterSqlite3 from 'better-sqlite3'
import {silentLogger} from '../src/cli/logger.js'
import {Settings} from '../src/config/env.js'
import {openDatabase} from '../src/db/database.js'
import {copyDatabase, DEFAULT_BATCH_SIZE} from '../src/db-copy/copy-database.js'
import {createMigrator} from '../src/migrate/migrator.js'
import {createTestDatabase, type TestDatabase} from '../test/support/databases.js'

const argument = (name: string, fallback: number) => {
  const at = process.argv.indexOf(`--${name}`)
  return at >= 0 && process.argv[at + 1] ? Number(process.argv[at + 1]) : fallback
}
const MESSAGES = argument('messages', 1_000_000)
const BATCH_SIZE = argument('batch-size', DEFAULT_BATCH_SIZE)
const TENANTS = 20
const CAMPAIGNS = 200
const CONTACTS = 100_000

async function migrate(test: TestDatabase): Promise<void> {
  const database = await test.open({create: true})
  try {
    const result = await createMigrator({database, settings: Settings.fromProcess(), logger: silentLogger}).up()
    if (result.error) throw result.error
  } finally {
    await database.close()
  }
}

function generate(sqlite: BetterSqlite3.Database): void {
  const at = (n: number) => new Date(Date.UTC(2026, 0, 1) + n * 1000).toISOString()
  const hex = (n: number, width: number) => n.toString(16).padStart(width, '0')
  sqlite.transaction(() => {
    const tenant = sqlite.prepare('INSERT INTO tenants (id, slug, name, created_at) VALUES (?, ?, ?, ?)')
    for (let t = 0; t < TENANTS; t++) tenant.run(`ten_${t}`, `tenant-${t}`, `Tenant ${t} — Zoë 東京`, at(t))
    const campaign = sqlite.prepare(
      'INSERT INTO campaigns (id, tenant_id, name, channel, subject, body, status, created_at, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    )
    for (let c = 0; c < CAMPAIGNS; c++) {
      campaign.run(`cmp_${hex(c, 6)}`, `ten_${c % TENANTS}`, `Campaign ${c}`, 'sms', null, `Hi {{name}}, offer ${c} 🌸`, 'sent', at(c), at(c + 60))
    }
    const contact = sqlite.prepare('INSERT INTO contacts (id, tenant_id, name, phone, email, opted_out, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
    for (let c = 0; c < CONTACTS; c++) {
      contact.run(`con_${hex(c, 8)}`, `ten_${c % TENANTS}`, `Contact ${c}`, `+1555${String(c).padStart(7, '0')}`, `c${c}@example.com`, c % 50 === 0 ? 1 : 0, at(c))
    }
    const message = sqlite.prepare(`INSERT INTO messages (id, tenant_id, campaign_id, contact_id, channel, provider, to_address,
      provider_message_id, status, error_code, error_message, attempts, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
    for (let m = 0; m < MESSAGES; m++) {
      const c = m % CONTACTS
      const failed = m % 97 === 0
      message.run(
        `msg_${hex(m * 2654435761 % 4294967296, 8)}_${hex(m, 8)}`,
        `ten_${c % TENANTS}`,
        `cmp_${hex(m % CAMPAIGNS, 6)}`,
        `con_${hex(c, 8)}`,
        'sms',
        'twilio',
        `+1555${String(c).padStart(7, '0')}`,
        `SM${hex(m, 32)}`,
        failed ? 'failed' : 'delivered',
        failed ? '30003' : null,
        failed ? 'Unreachable destination handset' : null,
        failed ? 3 : 1,
        at(m),
        at(m + 5),
      )
    }
  })()
}

/** The table's rows as CSV (every column, target order), for psql's \copy. */
async function exportCsv(sqlite: BetterSqlite3.Database, table: string, columns: string[], path: string): Promise<void> {
  const out = createWriteStream(path)
  const field = (value: unknown) => (value === null ? '' : `"${String(value).replaceAll('"', '""')}"`)
  let chunk = ''
  for (const row of sqlite.prepare(`SELECT ${columns.map((c) => `"${c}"`).join(', ')} FROM "${table}"`).raw(true).iterate() as IterableIterator<unknown[]>) {
    chunk += row.map(field).join(',') + '\n'
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await once(out, 'drain')
      chunk = ''
    }
  }
  out.end(chunk)
  await once(out, 'finish')
}

function psqlCopy(url: string, table: string, columns: string[], path: string): number {
  const started = performance.now()
  execFileSync('psql', [url, '-v', 'ON_ERROR_STOP=1', '-q', '-c', `\\copy "${table}" (${columns.map((c) => `"${c}"`).join(', ')}) FROM '${path}' WITH (FORMAT csv)`], {
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  return (performance.now() - started) / 1000
}

async function main(): Promise<void> {
  const source = await createTestDatabase('sqlite')
  const copyTarget = await createTestDatabase('postgres')
  const copyFloor = await createTestDatabase('postgres')
  try {
    let started = performance.now()
    await Promise.all([migrate(source), migrate(copyTarget), migrate(copyFloor)])
    const sourceDb = await openDatabase(source.url)
    const sqlite = sourceDb.sqlite!
    generate(sqlite)
    const generated = (performance.now() - started) / 1000
    const columnsOf = (table: string) => (sqlite.prepare('SELECT name FROM pragma_table_info(?) ORDER BY cid').all(table) as {name: string}[]).map((r) => r.name)
    console.log(`Generated ${MESSAGES} messages, ${CONTACTS} contacts, ${CAMPAIGNS} campaigns, ${TENANTS} tenants in ${generated.toFixed(1)} s (SQLite, migrated by the engine).`)

    // Floor: PostgreSQL's own COPY of the same messages rows (parents loaded first, untimed).
    for (const table of ['tenants', 'campaigns', 'contacts', 'messages']) await exportCsv(sqlite, table, columnsOf(table), join(source.dir, `${table}.csv`))
    await sourceDb.close()
    for (const table of ['tenants', 'campaigns', 'contacts']) psqlCopy(copyFloor.url, table, columnsOf(table), join(source.dir, `${table}.csv`))
    const copySeconds = psqlCopy(copyFloor.url, 'messages', columnsOf('messages'), join(source.dir, 'messages.csv'))

    started = performance.now()
    const phases: Record<string, number> = {}
    const result = await copyDatabase({
      from: source.url,
      to: copyTarget.url,
      batchSize: BATCH_SIZE,
      onProgress: (event) => {
        if (event.type === 'start' || event.type === 'verify') phases[event.type] ??= (performance.now() - started) / 1000
      },
    })
    const totalSeconds = (performance.now() - started) / 1000
    if (!result.verified) throw result.error
    const messages = result.tables.find((table) => table.table === 'messages')!
    const allRows = result.tables.reduce((sum, table) => sum + table.rows, 0)
    const copyPhase = result.tables.reduce((sum, table) => sum + table.seconds, 0)

    const rate = (rows: number, seconds: number) => Math.round(rows / seconds)
    const floorRate = rate(MESSAGES, copySeconds)
    console.log(`batch size ${BATCH_SIZE}; load average ${loadavg().map((n) => n.toFixed(1)).join(' ')} on ${cpus().length} CPUs`)
    console.log(`PostgreSQL COPY messages FROM STDIN (psql \\copy): ${MESSAGES} rows in ${copySeconds.toFixed(2)} s = ${floorRate} rows/s`)
    console.log(`engage db copy, messages table (batches committed with progress): ${messages.copiedThisRun} rows in ${messages.seconds.toFixed(2)} s = ${messages.rowsPerSecond} rows/s  → COPY is ${(floorRate / messages.rowsPerSecond).toFixed(2)}× faster`)
    console.log(`engage db copy, all tables, copy phase: ${allRows} rows in ${copyPhase.toFixed(2)} s = ${rate(allRows, copyPhase)} rows/s`)
    console.log(`engage db copy, end to end (version check, source checksums, copy, sequences, verification): ${totalSeconds.toFixed(2)} s = ${rate(MESSAGES, totalSeconds)} messages/s  → COPY is ${(floorRate / rate(MESSAGES, totalSeconds)).toFixed(2)}× faster`)
    console.log(
      `  phases: open, version check, source checksums, prepare ${phases.start!.toFixed(2)} s; copy + sequences ${(phases.verify! - phases.start!).toFixed(2)} s; verification ${(totalSeconds - phases.verify!).toFixed(2)} s`,
    )
    console.log(`verified: ${result.verified} (${result.tables.length} tables, counts and checksums equal)`)
  } finally {
    await Promise.allSettled([source.dispose(), copyTarget.dispose(), copyFloor.dispose()])
  }
}

await main()
