import {createCipheriv} from 'node:crypto'
import type {Database} from '../../src/db/database.js'
import {createLegacySchema} from './legacy-fixture.js'

/**
 * A large legacy database for benchmarks and the kill-mid-migration test:
 * `tenants` tenants, settings rows for some of their channels, and `v2Rows`
 * credential rows with the contract's quirks at scale (duplicates per pair
 * with equal timestamps, orphans, settings without credentials and credentials
 * without settings, NULL and empty webhook secrets). Deterministic for a
 * seed — IVs included — so two databases generated alike are byte-identical.
 * Bulk paths: one prepared statement in one transaction on SQLite, `unnest`
 * arrays on PostgreSQL.
 */
export interface GenerateOptions {
  tenants: number
  v2Rows: number
  /** 64 hex; default derived from the seed. */
  encryptionKey?: string
  seed?: number
}

export interface GeneratedDatabase {
  encryptionKey: string
  tenants: number
  settingsRows: number
  v2Rows: number
}

const CHANNELS = ['sms', 'whatsapp', 'email'] as const

/** mulberry32: tiny, fast, and good enough to make test data. */
function prng(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function bytes(random: () => number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length)
  for (let index = 0; index < length; index++) out[index] = Math.floor(random() * 256)
  return out
}

export async function generateLegacyDatabase(database: Database, options: GenerateOptions): Promise<GeneratedDatabase> {
  const random = prng(options.seed ?? 42)
  const key = options.encryptionKey ? Buffer.from(options.encryptionKey, 'hex') : bytes(random, 32)
  const at = (minute: number) => new Date(Date.UTC(2026, 0, 1) + minute * 60_000).toISOString()

  const tenants: unknown[][] = []
  const settings: unknown[][] = []
  for (let index = 0; index < options.tenants; index++) {
    const id = `t${index.toString().padStart(7, '0')}`
    const odd = index % 1000 === 7
    tenants.push([id, odd ? `zoë-🚀-${index}` : `tenant-${index}`, odd ? `Robert'); DROP TABLE tenants;-- ${index}` : `Tenant ${index}`, at(0)])
    if (index % 2 === 0) settings.push([id, 'sms', 'twilio', 1, `+1555${index.toString().padStart(7, '0')}`, '{}', at(1), at(1)])
    if (index % 3 === 0) settings.push([id, 'email', 'ses', index % 6 === 0 ? 1 : 0, `noreply@t${index}.example`, '{}', at(1), at(1)])
  }
  const credentials: unknown[][] = []
  for (let row = 0; row < options.v2Rows; row++) {
    const orphan = row % 25 === 24
    const tenant = orphan ? `gone${row}` : `t${Math.floor(random() * options.tenants).toString().padStart(7, '0')}`
    const channel = CHANNELS[Math.floor(random() * 3)]!
    const provider = channel === 'email' ? 'ses' : 'twilio'
    const token = bytes(random, 16).toString('hex')
    const plaintext = provider === 'twilio'
      ? JSON.stringify({accountSid: `AC${bytes(random, 16).toString('hex')}`, authToken: token})
      : JSON.stringify({accessKeyId: `AKIA${bytes(random, 8).toString('hex').toUpperCase()}`, secretAccessKey: token, region: 'eu-west-1'})
    const iv = bytes(random, 16)
    const cipher = createCipheriv('aes-256-cbc', key, iv)
    const stored = `${iv.toString('hex')}:${Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]).toString('hex')}`
    const pick = random()
    const webhookSecret = pick < 0.3 ? null : pick < 0.4 ? '' : `whsec_${bytes(random, 12).toString('hex')}`
    // A coarse clock (whole hours over ~3 months) makes equal updated_at within a pair common.
    const updated = at(60 * Math.floor(random() * 2000))
    credentials.push([tenant, channel, provider, stored, random() < 0.5 ? `MG${bytes(random, 16).toString('hex')}` : null,
      random() < 0.5 ? `https://hooks.example/${tenant}/${channel}` : null, webhookSecret, random() < 0.6 ? 1 : 0,
      random() < 0.1 ? '20003: Authenticate' : null, at(0), updated])
  }

  await createLegacySchema(database)
  const tables = {
    tenants: ['id', 'slug', 'name', 'created_at'],
    tenant_channel_settings: ['tenant_id', 'channel', 'provider', 'is_enabled', 'sender', 'settings_json', 'created_at', 'updated_at'],
    tenant_channel_credentials_v2: ['tenant_id', 'channel', 'provider', 'credentials_encrypted', 'messaging_service_sid', 'webhook_url',
      'webhook_secret', 'is_verified', 'verification_error', 'created_at', 'updated_at'],
  }
  await bulkInsert(database, 'tenants', tables.tenants, tenants)
  await bulkInsert(database, 'tenant_channel_settings', tables.tenant_channel_settings, settings)
  await bulkInsert(database, 'tenant_channel_credentials_v2', tables.tenant_channel_credentials_v2, credentials)
  return {encryptionKey: key.toString('hex'), tenants: tenants.length, settingsRows: settings.length, v2Rows: credentials.length}
}

const INTEGER_COLUMNS = new Set(['is_enabled', 'is_verified'])

async function bulkInsert(database: Database, table: string, columns: string[], rows: unknown[][]): Promise<void> {
  if (database.dialect === 'sqlite') {
    const handle = database.sqlite!
    const insert = handle.prepare(`INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`)
    handle.transaction(() => {
      for (const row of rows) insert.run(row)
    })()
    return
  }
  const client = await database.pool!.connect()
  try {
    const casts = columns.map((column, index) => `$${index + 1}::${INTEGER_COLUMNS.has(column) ? 'integer' : 'text'}[]`)
    for (let start = 0; start < rows.length; start += 20_000) {
      const part = rows.slice(start, start + 20_000)
      const arrays = columns.map((_, index) => part.map((row) => row[index]))
      await client.query(`INSERT INTO ${table} (${columns.join(', ')}) SELECT * FROM unnest(${casts.join(', ')})`, arrays)
    }
  } finally {
    client.release()
  }
}
