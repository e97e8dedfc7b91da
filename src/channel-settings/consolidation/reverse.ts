import {randomBytes} from 'node:crypto'
import {sql, type Kysely} from 'kysely'
import {Keyring} from '../../crypto/encryption-key.js'
import {decryptField, type FieldContext} from '../../crypto/envelope.js'
import {decryptLegacy, encryptLegacy} from '../../crypto/legacy-cbc.js'
import type {Dialect} from '../../db/database.js'
import {EncryptionError, MigrationError} from '../../errors/engage-error.js'
import type {MigrationContext} from '../../migrate/types.js'
import {tableExists} from '../../migrate/schema-inspect.js'
import {CONVERT_BATCH_ROWS, chunk} from './batches.js'
import {
  archiveCredentialsContext,
  archiveWebhookContext,
  settingsCredentialsContext,
  settingsWebhookContext,
} from './contexts.js'
import {DOWN_TABLES, lockConsolidationTables} from './locks.js'
import {dropTable, legacyCreateStatement} from './schema.js'
import {loadState, makeSequenceTransactional, readSequence, sequenceAtLeast, stateKeys, writeSequence} from './state.js'
import {LEGACY_COLUMNS, LEGACY_SETTINGS_COLUMNS, NEW_SETTINGS_COLUMNS, TABLES, type LegacyCredentialRow} from './types.js'
import {insertRows} from './write.js'

/* eslint-disable @typescript-eslint/no-explicit-any */

interface ArchiveRecord {
  id: number
  tenant_id: string
  channel: string
  provider: string
  credentials_encrypted: string | null
  messaging_service_sid: string | null
  webhook_url: string | null
  webhook_secret_encrypted: string | null
  is_verified: number
  verification_error: string | null
  created_at: string
  updated_at: string
  legacy_iv: string | null
  legacy_ciphertext: string | null
  reason: string
  settings_id: number | null
  settings_created: number
}

interface SettingsRecord {
  id: number
  tenant_id: string
  channel: string
  provider: string
  credentials_encrypted: string | null
  messaging_service_sid: string | null
  webhook_url: string | null
  webhook_secret_encrypted: string | null
  is_verified: number
  verification_error: string | null
  created_at: string
  updated_at: string
}

export interface ReverseReport {
  [key: string]: unknown
  legacyCredentialRowsRestored: number
  fromArchive: number
  /** Settings credentials seeded after `up`, written back as new legacy rows. */
  fromSettingsSeededAfterUp: number
  createdSettingsRowsRemoved: number
}

/**
 * Migration 0002 `down`: rebuilds `tenant_channel_credentials_v2` and the
 * legacy `tenant_channel_settings` exactly — same ids, same bytes (legacy
 * ciphertext rebuilt from the archived IV), same CREATE TABLE text and
 * sequence positions — then drops the archive.
 *
 * Choices: a merged row is rebuilt from its settings row's current
 * credentials, webhook secret and verification fields (identical to the
 * original unless changed after `up`); settings credentials that no archive
 * row accounts for (seeded after `up`) become new legacy rows with ids after
 * every existing one and a fresh IV; settings rows `up` created are removed.
 * Everything is decrypted before the first write, so a missing or wrong key
 * refuses with the database untouched.
 */
export async function reverseConsolidation(ctx: MigrationContext): Promise<ReverseReport> {
  const {db, dialect, logger} = ctx
  for (const table of [TABLES.archive, TABLES.state]) {
    if (!(await tableExists(db, dialect, table))) {
      throw new MigrationError(`${table} does not exist; 0002 cannot be reversed without it.`, {
        code: 'CONSOLIDATION_ARCHIVE_MISSING',
        suggestions: ['Restore the database from a backup taken before the consolidation.'],
      })
    }
  }
  await lockConsolidationTables(db, dialect, DOWN_TABLES)
  const state = await loadState(db)
  const archive = (await db.selectFrom(TABLES.archive).selectAll().orderBy('id').execute()) as ArchiveRecord[]
  const settings = (await db
    .selectFrom(TABLES.settings)
    .select(['id', 'tenant_id', 'channel', 'provider', 'credentials_encrypted', 'messaging_service_sid', 'webhook_url',
      'webhook_secret_encrypted', 'is_verified', 'verification_error', 'created_at', 'updated_at'])
    .orderBy('id')
    .execute()) as SettingsRecord[]
  const settingsById = new Map(settings.map((row) => [Number(row.id), row]))
  const needsKey = archive.length > 0 || settings.some((row) => row.credentials_encrypted !== null || row.webhook_secret_encrypted !== null)
  const keyring = needsKey ? Keyring.fromSettings((name) => ctx.settings.get(name)) : undefined

  const problems: {id: string; problem: string}[] = []
  let decryptFailures = 0
  let decryptAttempts = 0
  const open = (envelope: string, context: FieldContext, label: string): Buffer | undefined => {
    decryptAttempts++
    try {
      return decryptField(keyring!, envelope, context)
    } catch {
      decryptFailures++
      problems.push({id: label, problem: 'does not decrypt'})
      return undefined
    }
  }

  const restored: LegacyCredentialRow[] = []
  const mergedSettingsIds = new Set<number>()
  for (const row of archive) {
    const id = Number(row.id)
    const label = `archive ${id}`
    let credentials: string | undefined
    let secret: string | null = null
    let meta = {messaging_service_sid: row.messaging_service_sid, webhook_url: row.webhook_url, is_verified: Number(row.is_verified), verification_error: row.verification_error}
    if (row.reason === 'merged') {
      const current = row.settings_id === null ? undefined : settingsById.get(Number(row.settings_id))
      if (!current || current.credentials_encrypted === null) {
        problems.push({id: label, problem: `its settings row ${row.settings_id} is gone or has no credentials`})
        continue
      }
      mergedSettingsIds.add(Number(current.id))
      const plaintext = open(current.credentials_encrypted, settingsCredentialsContext(current.tenant_id, current.channel), label)
      if (plaintext) credentials = legacyBytes(keyring!.current.key, plaintext, row)
      if (current.webhook_secret_encrypted !== null) {
        secret = open(current.webhook_secret_encrypted, settingsWebhookContext(current.tenant_id, current.channel), label)?.toString('utf8') ?? null
      } else if (row.webhook_secret_encrypted !== null) {
        secret = open(row.webhook_secret_encrypted, archiveWebhookContext(id, row.tenant_id, row.channel), label)?.toString('utf8') ?? null
      }
      meta = {messaging_service_sid: current.messaging_service_sid, webhook_url: current.webhook_url, is_verified: Number(current.is_verified), verification_error: current.verification_error}
    } else {
      if (row.legacy_ciphertext !== null) credentials = row.legacy_ciphertext
      else if (row.credentials_encrypted !== null && row.legacy_iv !== null) {
        const plaintext = open(row.credentials_encrypted, archiveCredentialsContext(id, row.tenant_id, row.channel), label)
        if (plaintext) credentials = encryptLegacy(keyring!.current.key, plaintext, Buffer.from(row.legacy_iv, 'hex'))
      } else problems.push({id: label, problem: 'has neither credentials nor a verbatim legacy value'})
      if (row.webhook_secret_encrypted !== null) {
        secret = open(row.webhook_secret_encrypted, archiveWebhookContext(id, row.tenant_id, row.channel), label)?.toString('utf8') ?? null
      }
    }
    if (credentials === undefined) continue
    restored.push({id, tenant_id: row.tenant_id, channel: row.channel, provider: row.provider, credentials_encrypted: credentials,
      webhook_secret: secret, created_at: row.created_at, updated_at: row.updated_at, ...meta})
  }

  const previousSequence = state[stateKeys.sequence(TABLES.legacy)] ?? null
  let nextId = Math.max(sequenceUsed(dialect, previousSequence), ...archive.map((row) => Number(row.id)), 0) + 1
  let seeded = 0
  for (const row of settings) {
    if (row.credentials_encrypted === null || mergedSettingsIds.has(Number(row.id))) continue
    const label = `settings ${row.id}`
    const plaintext = open(row.credentials_encrypted, settingsCredentialsContext(row.tenant_id, row.channel), label)
    const secret = row.webhook_secret_encrypted === null ? null
      : open(row.webhook_secret_encrypted, settingsWebhookContext(row.tenant_id, row.channel), label)?.toString('utf8') ?? null
    if (!plaintext) continue
    seeded++
    restored.push({id: nextId++, tenant_id: row.tenant_id, channel: row.channel, provider: row.provider,
      credentials_encrypted: encryptLegacy(keyring!.current.key, plaintext, randomBytes(16)),
      messaging_service_sid: row.messaging_service_sid, webhook_url: row.webhook_url, webhook_secret: secret,
      is_verified: Number(row.is_verified), verification_error: row.verification_error, created_at: row.created_at, updated_at: row.updated_at})
  }

  if (problems.length > 0) {
    const labels = problems.map((entry) => entry.id)
    const message = `${problems.length} value(s) cannot be restored (${labels.slice(0, 20).join(', ')}${labels.length > 20 ? ', …' : ''}): ${problems[0]!.problem}. Nothing was changed.`
    if (decryptFailures > 0 && decryptFailures === decryptAttempts) {
      throw new EncryptionError(`No stored credential decrypts with the configured keys (${keyring!.ids.join(', ')}); ${message}`, {
        code: 'ENCRYPTION_KEY_WRONG',
        suggestions: ['Set ENCRYPTION_KEY (and ENCRYPTION_KEY_PREVIOUS during a rotation) to the keys the values were written with.'],
        details: {rows: labels},
      })
    }
    throw new MigrationError(message, {
      code: 'CONSOLIDATION_NOT_REVERSIBLE',
      suggestions: ['Re-seed or remove the named settings rows, or restore from a backup taken before the consolidation.'],
      details: {rows: labels},
    })
  }

  // First write: everything needed is in memory.
  await makeSequenceTransactional(db, dialect, TABLES.settings)
  await sql.raw(legacyCreateStatement(dialect, TABLES.legacy, state[stateKeys.sql(TABLES.legacy)])).execute(db)
  let written = 0
  for (const batch of chunk(restored, CONVERT_BATCH_ROWS)) {
    await insertRows(db, dialect, TABLES.legacy, LEGACY_COLUMNS, batch as unknown as Record<string, unknown>[])
    written += batch.length
    logger.debug(`consolidation: restored ${written}/${restored.length}`)
  }
  await writeSequence(db, dialect, TABLES.legacy, sequenceAtLeast(dialect, previousSequence, nextId - 1))

  const createdIds = archive.filter((row) => row.reason === 'merged' && Number(row.settings_created) === 1 && row.settings_id !== null)
    .map((row) => Number(row.settings_id))
  for (const ids of chunk(createdIds, 10_000)) await db.deleteFrom(TABLES.settings).where('id', 'in', ids).execute()
  // If no settings row was added after up, the sequence goes back to its pre-up position; else it keeps moving forward.
  const currentSequence = await readSequence(db, dialect, TABLES.settings)
  const settingsSequence = currentSequence === (state[stateKeys.sequenceAfterUp(TABLES.settings)] ?? null)
    ? (state[stateKeys.sequence(TABLES.settings)] ?? null)
    : currentSequence
  await restoreLegacySettingsTable(db, dialect, state[stateKeys.sql(TABLES.settings)])
  await writeSequence(db, dialect, TABLES.settings, settingsSequence)

  await dropTable(db, TABLES.archive)
  await dropTable(db, TABLES.state)
  return {
    legacyCredentialRowsRestored: restored.length,
    fromArchive: restored.length - seeded,
    fromSettingsSeededAfterUp: seeded,
    createdSettingsRowsRemoved: createdIds.length,
  }
}

/** Exact legacy bytes of a merged row: verbatim when that still decrypts to the current plaintext, else rebuilt with the archived IV. */
function legacyBytes(key: Buffer, plaintext: Buffer, row: ArchiveRecord): string {
  if (row.legacy_ciphertext !== null) {
    try {
      if (decryptLegacy(key, row.legacy_ciphertext).equals(plaintext)) return row.legacy_ciphertext
    } catch {
      // Changed since up: fall through to a fresh encryption.
    }
  }
  return encryptLegacy(key, plaintext, row.legacy_iv ? Buffer.from(row.legacy_iv, 'hex') : randomBytes(16))
}

function sequenceUsed(dialect: Dialect, value: string | null): number {
  if (value === null) return 0
  if (dialect === 'sqlite') return Number(value)
  const parsed = JSON.parse(value) as {lastValue: string; isCalled: boolean}
  return parsed.isCalled ? Number(parsed.lastValue) : Number(parsed.lastValue) - 1
}

/**
 * Takes `tenant_channel_settings` back to its legacy columns. SQLite rebuilds
 * the table from the recorded CREATE TABLE text so sqlite_master holds the
 * original bytes (nothing references the table, so the rename-copy-drop is
 * safe with foreign keys on); PostgreSQL drops the added columns, which
 * leaves the legacy columns' positions as they were.
 */
async function restoreLegacySettingsTable(db: Kysely<any>, dialect: Dialect, recordedSql: string | null | undefined): Promise<void> {
  if (dialect === 'postgres') {
    await sql`ALTER TABLE ${sql.table(TABLES.settings)} ${sql.join(NEW_SETTINGS_COLUMNS.map((column) => sql`DROP COLUMN ${sql.ref(column)}`))}`.execute(db)
    return
  }
  const scratch = '_engage_settings_rebuild'
  const columns = sql.join(LEGACY_SETTINGS_COLUMNS.map((column) => sql.ref(column)))
  await sql`ALTER TABLE ${sql.table(TABLES.settings)} RENAME TO ${sql.table(scratch)}`.execute(db)
  await sql.raw(legacyCreateStatement(dialect, TABLES.settings, recordedSql)).execute(db)
  await sql`INSERT INTO ${sql.table(TABLES.settings)} (${columns}) SELECT ${columns} FROM ${sql.table(scratch)} ORDER BY id`.execute(db)
  await sql`DROP TABLE ${sql.table(scratch)}`.execute(db)
}
