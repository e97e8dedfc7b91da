/**
 * Migration 0002 on a generated legacy database (default 100,000 credential
 * rows across 50,000 tenants), on SQLite and PostgreSQL, beside two floors
 * timed in the same run on the same database: a bare `INSERT INTO … SELECT`
 * copy of the credential rows, and the bare cryptography for them (legacy
 * decrypt, ev1 encrypt, verifying decrypt) in a plain loop. Each measurement
 * runs in its own child process so its peak RSS is its own. Prints figures;
 * no assertions. Target: migration ≤ 1.5 × (copy + crypto).
 *
 *   node --import tsx bench/migrate.ts [--rows 100000] [--tenants 50000] [--dialect sqlite|postgres|both]
 */
import {execFileSync} from 'node:child_process'
import {fileURLToPath} from 'node:url'
import {sql} from 'kysely'
import {silentLogger} from '../src/cli/logger.js'
import {Settings} from '../src/config/env.js'
import {parseEncryptionKey} from '../src/crypto/encryption-key.js'
import {decryptField, encryptField} from '../src/crypto/envelope.js'
import {decryptLegacy} from '../src/crypto/legacy-cbc.js'
import {inWriteTransaction, openDatabase, type Dialect} from '../src/db/database.js'
import {consolidateChannelSettings} from '../src/channel-settings/consolidation/consolidate.js'
import {createTestDatabase} from '../test/support/databases.js'
import {generateLegacyDatabase} from '../test/support/legacy-generator.js'

const argument = (name: string, fallback: string) => {
  const at = process.argv.indexOf(`--${name}`)
  return at >= 0 && process.argv[at + 1] ? process.argv[at + 1]! : fallback
}

interface Measurement {
  seconds: number
  maxRssMb: number
  rows?: number
}

class Rollback extends Error {}

/** One measurement, in this (child) process. */
async function child(kind: string, url: string, key: string): Promise<Measurement> {
  const database = await openDatabase(url)
  try {
    let rows = 0
    let seconds = 0
    if (kind === 'copy') {
      await inWriteTransaction(database, async (trx) => {
        await sql`CREATE TABLE bench_copy AS SELECT * FROM tenant_channel_credentials_v2 WHERE 1 = 0`.execute(trx)
        const started = performance.now()
        await sql`INSERT INTO bench_copy SELECT * FROM tenant_channel_credentials_v2`.execute(trx)
        seconds = (performance.now() - started) / 1000
        throw new Rollback()
      }).catch((error) => {
        if (!(error instanceof Rollback)) throw error
      })
    } else if (kind === 'crypto') {
      const encryptionKey = parseEncryptionKey(key)
      const legacy = await database.db.selectFrom('tenant_channel_credentials_v2').selectAll().orderBy('id').execute()
      const started = performance.now()
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
    } else {
      const settings = new Settings({ENCRYPTION_KEY: key}, {})
      const started = performance.now()
      await inWriteTransaction(database, async (trx) => {
        const report = await consolidateChannelSettings({db: trx, dialect: database.dialect, settings, options: {}, logger: silentLogger})
        rows = report.legacyCredentialRows
      })
      seconds = (performance.now() - started) / 1000
    }
    return {seconds, rows, maxRssMb: process.resourceUsage().maxRSS / 1024}
  } finally {
    await database.close()
  }
}

function inChild(kind: string, url: string, key: string): Measurement {
  const output = execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', kind, '--url', url, '--key', key], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  return JSON.parse(output.trim().split('\n').at(-1)!) as Measurement
}

async function benchDialect(dialect: Dialect, rows: number, tenants: number): Promise<void> {
  const testDatabase = await createTestDatabase(dialect)
  try {
    const database = await testDatabase.open({create: true})
    const generationStarted = performance.now()
    const generated = await generateLegacyDatabase(database, {tenants, v2Rows: rows})
    await database.close()
    const generation = (performance.now() - generationStarted) / 1000
    const copy = inChild('copy', testDatabase.url, generated.encryptionKey)
    const crypto = inChild('crypto', testDatabase.url, generated.encryptionKey)
    const migration = inChild('migrate', testDatabase.url, generated.encryptionKey)
    const floor = copy.seconds + crypto.seconds
    const line = (name: string, m: Measurement) =>
      `  ${name.padEnd(28)} ${m.seconds.toFixed(2).padStart(7)} s ${Math.round(rows / m.seconds).toLocaleString('en-US').padStart(10)} rows/s ${m.maxRssMb.toFixed(0).padStart(6)} MB peak RSS`
    console.log(`${dialect}: ${generated.v2Rows.toLocaleString('en-US')} credential rows, ${generated.tenants.toLocaleString('en-US')} tenants, ${generated.settingsRows.toLocaleString('en-US')} settings rows (generated in ${generation.toFixed(1)} s)`)
    console.log(line('migration 0002', migration))
    console.log(line('floor: INSERT … SELECT copy', copy))
    console.log(line('floor: bare cryptography', crypto))
    console.log(`  ratio migration / (copy + crypto) = ${(migration.seconds / floor).toFixed(2)}× (target ≤ 1.5×)`)
  } finally {
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
  console.log(`bench/migrate: Node ${process.version}; each figure from its own child process.`)
  for (const dialect of ['sqlite', 'postgres'] as const) {
    if (which === 'both' || which === dialect) await benchDialect(dialect, rows, tenants)
  }
}
