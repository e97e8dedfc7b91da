/**
 * Migration 0002 on a generated legacy database (default 100,000 credential
 * rows across 50,000 tenants), on SQLite and PostgreSQL, beside two floors
 * timed in the same run on the same database: a bare `INSERT INTO … SELECT`
 * copy of the credential rows, and the bare cryptography for them (legacy
 * decrypt, ev1 encrypt, verifying decrypt) in a plain loop. Each measurement
 * runs in its own child process so its peak RSS is its own. The migration
 * runs through the migration engine, as `engage migrate up --to 0002` does
 * (0001 baselines the generated database first, untimed): its write
 * transaction, the migration and its engage_migrations record. Prints wall
 * seconds, rows/s and peak RSS, plus this process's CPU seconds (all its
 * threads: 0002 runs its cryptography in worker threads beside the database
 * work), which load from other processes on a shared machine inflates far
 * less than wall time (PostgreSQL's own CPU is in the server, not here). The
 * floors run on one thread; the migration may use every CPU, so on a loaded
 * machine its wall time suffers more than theirs. No assertions.
 * Target: migration ≤ 1.5 × (copy + crypto).
 *
 * The three measurements run in interleaved rounds (3 by default), each
 * migration on its own copy of the generated database; the figures are the
 * medians, with their range. On PostgreSQL each measurement starts after a
 * CHECKPOINT: the setup writes a few hundred megabytes of WAL (the
 * generated database and one copy of it per round), which would otherwise
 * start a checkpoint inside whichever measurement came next, and then every
 * page that measurement first changes is written to the WAL whole.
 *
 *   node --import tsx bench/migrate.ts [--rows 100000] [--tenants 50000] [--dialect sqlite|postgres|both] [--rounds 3]
 */
import {execFileSync} from 'node:child_process'
import {cpus, loadavg} from 'node:os'
import {fileURLToPath} from 'node:url'
import {sql} from 'kysely'
import {silentLogger} from '../src/cli/logger.js'
import {Settings} from '../src/config/env.js'
import {parseEncryptionKey} from '../src/crypto/encryption-key.js'
import {decryptField, encryptField} from '../src/crypto/envelope.js'
import {decryptLegacy} from '../src/crypto/legacy-cbc.js'
import {inWriteTransaction, openDatabase, type Dialect} from '../src/db/database.js'
import {createMigrator} from '../src/migrate/migrator.js'
import {sourceWorkerScript} from '../src/channel-settings/consolidation/crypto-pool.js'
import pg from 'pg'
import {createTestDatabase, POSTGRES_ADMIN_URL, type TestDatabase} from '../test/support/databases.js'
import {generateLegacyDatabase} from '../test/support/legacy-generator.js'
import {median} from './support/median.js'

const argument = (name: string, fallback: string) => {
  const at = process.argv.indexOf(`--${name}`)
  return at >= 0 && process.argv[at + 1] ? process.argv[at + 1]! : fallback
}

interface Measurement {
  seconds: number
  /** User + system CPU of the measuring process over the timed part. */
  cpuSeconds: number
  maxRssMb: number
  rows?: number
}

const cpuNow = () => {
  const usage = process.cpuUsage()
  return (usage.user + usage.system) / 1e6
}

const MIGRATION = '0002-channel-settings-consolidation'

class Rollback extends Error {}

/** One measurement, in this (child) process. */
async function child(kind: string, url: string, key: string): Promise<Measurement> {
  const database = await openDatabase(url)
  try {
    let rows = 0
    let seconds = 0
    let cpuSeconds = 0
    if (kind === 'copy') {
      await inWriteTransaction(database, async (trx) => {
        await sql`CREATE TABLE bench_copy AS SELECT * FROM tenant_channel_credentials_v2 WHERE 1 = 0`.execute(trx)
        const started = performance.now()
        const cpuStarted = cpuNow()
        await sql`INSERT INTO bench_copy SELECT * FROM tenant_channel_credentials_v2`.execute(trx)
        seconds = (performance.now() - started) / 1000
        cpuSeconds = cpuNow() - cpuStarted
        throw new Rollback()
      }).catch((error) => {
        if (!(error instanceof Rollback)) throw error
      })
    } else if (kind === 'crypto') {
      const encryptionKey = parseEncryptionKey(key)
      const legacy = await database.db.selectFrom('tenant_channel_credentials_v2').selectAll().orderBy('id').execute()
      const started = performance.now()
      const cpuStarted = cpuNow()
      for (const row of legacy) {
        const credentials = {tenantId: row.tenant_id, channel: row.channel, field: 'credentials'}
        const plaintext = decryptLegacy(encryptionKey.key, row.credentials_encrypted)
        const envelope = encryptField(encryptionKey, plaintext, credentials)
        decryptField(encryptionKey, envelope, credentials)
        if (row.webhook_secret) {
          const secret = {...credentials, field: 'webhook_secret'}
          decryptField(encryptionKey, encryptField(encryptionKey, row.webhook_secret, secret), secret)
        }
        rows++
      }
      seconds = (performance.now() - started) / 1000
      cpuSeconds = cpuNow() - cpuStarted
    } else {
      const settings = new Settings({ENCRYPTION_KEY: key, ENGAGE_OPERATOR: 'bench'}, {})
      const migrator = createMigrator({database, settings, logger: silentLogger})
      const baseline = await migrator.up({to: '0001'})
      if (baseline.error) throw baseline.error
      // Loaded before the clock starts: from the sources, tsx compiles each module as it is first
      // imported, and esbuild bundles the crypto worker's script, which the built CLI does not do
      // (its migration modules are compiled and linked, its worker is a compiled file).
      await import('../migrations/0002-channel-settings-consolidation.js')
      sourceWorkerScript()
      const started = performance.now()
      const cpuStarted = cpuNow()
      const result = await migrator.up({to: MIGRATION})
      seconds = (performance.now() - started) / 1000
      cpuSeconds = cpuNow() - cpuStarted
      if (result.error) throw result.error
      const applied = result.results.find((item) => item.name === MIGRATION && item.status === 'applied')
      if (!applied) throw new Error(`${MIGRATION} was not applied: ${JSON.stringify(result.results)}`)
      rows = Number((applied.report as {legacyCredentialRows?: number} | undefined)?.legacyCredentialRows ?? 0)
    }
    return {seconds, cpuSeconds, rows, maxRssMb: process.resourceUsage().maxRSS / 1024}
  } finally {
    await database.close()
  }
}

/** PostgreSQL: a CHECKPOINT (see the header), so a measurement does not pay for the setup's WAL. */
async function settle(dialect: Dialect): Promise<void> {
  if (dialect !== 'postgres') return
  const client = new pg.Client({connectionString: POSTGRES_ADMIN_URL})
  await client.connect()
  try {
    await client.query('CHECKPOINT')
  } finally {
    await client.end()
  }
}

function inChild(kind: string, url: string, key: string): Measurement {
  const output = execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', kind, '--url', url, '--key', key], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  return JSON.parse(output.trim().split('\n').at(-1)!) as Measurement
}

/** The median of each figure over the rounds (peak RSS: the largest), with the range of the seconds. */
function summary(measurements: Measurement[]): Measurement & {range: string} {
  const seconds = measurements.map((m) => m.seconds)
  return {
    seconds: median(seconds),
    cpuSeconds: median(measurements.map((m) => m.cpuSeconds)),
    maxRssMb: Math.max(...measurements.map((m) => m.maxRssMb)),
    range: measurements.length > 1 ? `${Math.min(...seconds).toFixed(2)}–${Math.max(...seconds).toFixed(2)} s` : '',
  }
}

/**
 * Runs the three measurements `rounds` times, interleaved (copy, crypto,
 * migration, copy, …), so that a slow spell of a shared machine weighs on
 * all three rather than on one; the ratio is of the medians.
 */
async function benchDialect(dialect: Dialect, rows: number, tenants: number, rounds: number): Promise<void> {
  const testDatabase = await createTestDatabase(dialect)
  // One copy of the generated database per migration run (the migration changes what it runs on).
  const clones: TestDatabase[] = []
  try {
    const database = await testDatabase.open({create: true})
    const generationStarted = performance.now()
    const generated = await generateLegacyDatabase(database, {tenants, v2Rows: rows})
    await database.close()
    const generation = (performance.now() - generationStarted) / 1000
    for (let round = 0; round < rounds; round++) clones.push(await createTestDatabase(dialect, testDatabase))
    const copies: Measurement[] = []
    const cryptos: Measurement[] = []
    const migrations: Measurement[] = []
    for (const clone of clones) {
      await settle(dialect)
      copies.push(inChild('copy', testDatabase.url, generated.encryptionKey))
      await settle(dialect)
      cryptos.push(inChild('crypto', testDatabase.url, generated.encryptionKey))
      await settle(dialect)
      const migration = inChild('migrate', clone.url, generated.encryptionKey)
      if (migration.rows !== generated.v2Rows) throw new Error(`the migration converted ${migration.rows} rows, not ${generated.v2Rows}`)
      migrations.push(migration)
    }
    const [copy, crypto, migration] = [summary(copies), summary(cryptos), summary(migrations)]
    const floor = copy.seconds + crypto.seconds
    const cpuFloor = copy.cpuSeconds + crypto.cpuSeconds
    const roundRatios = migrations.map((m, round) => (m.seconds / (copies[round]!.seconds + cryptos[round]!.seconds)).toFixed(2))
    const line = (name: string, m: Measurement & {range: string}) =>
      `  ${name.padEnd(28)} ${m.seconds.toFixed(2).padStart(7)} s ${Math.round(rows / m.seconds).toLocaleString('en-US').padStart(10)} rows/s ${m.maxRssMb.toFixed(0).padStart(6)} MB peak RSS ${m.cpuSeconds.toFixed(2).padStart(7)} s CPU here   ${m.range}`
    console.log(`${dialect}: ${generated.v2Rows.toLocaleString('en-US')} credential rows, ${generated.tenants.toLocaleString('en-US')} tenants, ${generated.settingsRows.toLocaleString('en-US')} settings rows (generated in ${generation.toFixed(1)} s; load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} CPUs; median of ${rounds} interleaved rounds, range after)`)
    console.log(line('migration 0002', migration))
    console.log(line('floor: INSERT … SELECT copy', copy))
    console.log(line('floor: bare cryptography', crypto))
    console.log(`  ratio migration / (copy + crypto), of the medians: wall ${(migration.seconds / floor).toFixed(2)}×, CPU in this process ${(migration.cpuSeconds / cpuFloor).toFixed(2)}× (target ≤ 1.5×); each round: ${roundRatios.join('×, ')}×`)
  } finally {
    for (const clone of clones) await clone.dispose()
    await testDatabase.dispose()
  }
}

if (process.argv.includes('--child')) {
  const result = await child(argument('child', 'migrate'), argument('url', ''), argument('key', ''))
  process.stdout.write(`${JSON.stringify(result)}\n`)
} else {
  const rows = Number(argument('rows', '100000'))
  const tenants = Number(argument('tenants', '50000'))
  const which = argument('dialect', 'both')
  const rounds = Number(argument('rounds', '3'))
  console.log(`bench/migrate: Node ${process.version}; each figure from its own child process.`)
  for (const dialect of ['sqlite', 'postgres'] as const) {
    if (which === 'both' || which === dialect) await benchDialect(dialect, rows, tenants, rounds)
  }
}
