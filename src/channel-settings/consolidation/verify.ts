import {type Kysely} from 'kysely'
import {decryptField, type FieldContext} from '../../crypto/envelope.js'
import type {EncryptionKey} from '../../crypto/encryption-key.js'
import type {Dialect} from '../../db/database.js'
import {MigrationError} from '../../errors/engage-error.js'
import {
  archiveCredentialsContext,
  archiveWebhookContext,
  settingsCredentialsContext,
  settingsWebhookContext,
} from './contexts.js'
import type {ConvertedBatch} from './convert.js'
import {TABLES} from './types.js'
import {execute} from './write.js'

/* eslint-disable @typescript-eslint/no-explicit-any */

/** What the read-back returns for one archive row and the settings row it points at. */
interface StoredRow {
  id: number
  reason: string
  settings_id: number | null
  settings_created: number
  credentials_encrypted: string | null
  webhook_secret_encrypted: string | null
  s_id: number | null
  s_credentials: string | null
  s_webhook: string | null
}

export interface VerifyProblem {
  id: number
  problem: string
}

function tryDecrypt(key: EncryptionKey, envelope: string, context: FieldContext): Buffer | undefined {
  try {
    return decryptField(key, envelope, context)
  } catch {
    return undefined
  }
}

const archive = `"${TABLES.archive}"`
const settings = `"${TABLES.settings}"`
const legacy = `"${TABLES.legacy}"`

/** The columns of StoredRow, in the order readBackPage puts them in each JSON array. */
const STORED_COLUMNS = [
  'a.id',
  'a.reason',
  'a.settings_id',
  'a.settings_created',
  'a.credentials_encrypted',
  'a.webhook_secret_encrypted',
  's.id',
  's.credentials_encrypted',
  's.webhook_secret_encrypted',
]

/**
 * Reads back, after a page's writes, what is stored for its legacy ids: each
 * archive row and the settings row it points at, as one JSON array of arrays
 * (STORED_COLUMNS) built by the database, so the main thread hands the stored
 * bytes to the crypto worker that checks them (checkStoredPage) without an
 * object per row. JSON carries the strings exactly.
 */
export async function readBackPage(db: Kysely<any>, dialect: Dialect, first: number, last: number): Promise<string> {
  const p = (n: number) => (dialect === 'sqlite' ? '?' : `$${n}`)
  const cells = STORED_COLUMNS.join(', ')
  const rows = dialect === 'sqlite' ? `json_group_array(json_array(${cells}) ORDER BY a.id)` : `CAST(json_agg(json_build_array(${cells}) ORDER BY a.id) AS text)`
  const [result] = await execute<{rows: string | null}>(
    db,
    `SELECT ${rows} AS rows FROM ${archive} AS a LEFT JOIN ${settings} AS s ON s.id = a.settings_id
    WHERE a.id >= ${p(1)} AND a.id <= ${p(2)}`,
    [first, last],
  )
  return result?.rows ?? '[]'
}

function parseStoredRows(json: string): StoredRow[] {
  const cells = JSON.parse(json) as [number, string, number | null, number, string | null, string | null, number | null, string | null, string | null][]
  return cells.map(([id, reason, settingsId, settingsCreated, credentials, secret, sId, sCredentials, sWebhook]) => ({
    id,
    reason,
    settings_id: settingsId,
    settings_created: settingsCreated,
    credentials_encrypted: credentials,
    webhook_secret_encrypted: secret,
    s_id: sId,
    s_credentials: sCredentials,
    s_webhook: sWebhook,
  }))
}

/**
 * Checks, before commit, what readBackPage read against every value that
 * JavaScript computed for the page (runs in the crypto worker that converted
 * it): each legacy row has its archive row with the planned reason and
 * settings row; the ev1 envelopes stored are byte for byte the ones computed,
 * and decrypting those stored bytes gives the legacy plaintext (credentials)
 * and the legacy webhook secret (NULL and '' kept apart). What the database
 * copied from the legacy row, the kept legacy value included, is checked in
 * SQL by verifyAgainstLegacy.
 */
export function checkStoredPage(key: EncryptionKey, batch: ConvertedBatch, storedJson: string): VerifyProblem[] {
  const {decisions} = batch
  const first = decisions[0]?.decrypted.row.id
  const last = decisions.at(-1)?.decrypted.row.id
  if (first === undefined || last === undefined) return []
  const rows = parseStoredRows(storedJson)
  const problems: VerifyProblem[] = []
  const fail = (id: number, problem: string) => problems.push({id, problem})
  // Both lists are in id order; a batch is a contiguous run of legacy ids, so equal lengths pair up by index.
  const byIndex = rows.length === decisions.length
  const byId = byIndex ? undefined : new Map(rows.map((row) => [Number(row.id), row]))
  if (!byIndex) fail(first, `archive has ${rows.length} rows for the ${decisions.length} legacy rows ${first}–${last}`)
  for (let index = 0; index < decisions.length; index++) {
    const decision = decisions[index]!
    const original = decision.decrypted.row
    const id = original.id
    const candidate = byIndex ? rows[index] : byId!.get(id)
    if (!candidate || Number(candidate.id) !== id) {
      fail(id, 'missing from the archive')
      continue
    }
    const row = candidate
    if (row.reason !== decision.reason) fail(id, `archived as ${row.reason}, planned ${decision.reason}`)
    const merged = decision.reason === 'merged'
    const secret = original.webhook_secret
    const credentialsWritten = batch.credentials[index]
    const secretWritten = batch.secrets[index]

    // Where the values went.
    let credentialsStored: string | null
    let credentialsContext: FieldContext
    let secretStored: string | null
    let secretContext: FieldContext
    if (merged) {
      const settingsId = row.s_id === null ? null : Number(row.s_id)
      if (settingsId === null) {
        fail(id, 'merged into a settings row that does not exist')
        continue
      }
      const created = Number(row.settings_created) === 1
      if (decision.settingsId === undefined ? !created : created || settingsId !== decision.settingsId) {
        fail(id, `merged into settings row ${settingsId}, planned ${decision.settingsId ?? 'a created row'}`)
      }
      if (row.credentials_encrypted !== null) fail(id, 'merged row also keeps credentials in the archive')
      credentialsStored = row.s_credentials
      credentialsContext = settingsCredentialsContext(original.tenant_id, original.channel)
      // A non-empty secret lives in settings; '' only in the archive (settings cannot sign with it).
      const inSettings = secret !== null && secret !== ''
      if ((inSettings ? row.webhook_secret_encrypted : row.s_webhook) !== null) fail(id, 'webhook secret stored in the wrong table')
      secretStored = inSettings ? row.s_webhook : row.webhook_secret_encrypted
      secretContext = inSettings
        ? settingsWebhookContext(original.tenant_id, original.channel)
        : archiveWebhookContext(id, original.tenant_id, original.channel)
    } else {
      if (row.settings_id !== null || Number(row.settings_created) !== 0) fail(id, `${decision.reason} row points at a settings row`)
      credentialsStored = row.credentials_encrypted
      credentialsContext = archiveCredentialsContext(id, original.tenant_id, original.channel)
      secretStored = row.webhook_secret_encrypted
      secretContext = archiveWebhookContext(id, original.tenant_id, original.channel)
    }

    // Credentials: the stored bytes are the computed envelope, and they decrypt to the legacy plaintext.
    if (!decision.decrypted.ok) {
      if (credentialsStored !== null) fail(id, 'undecryptable row has new credentials')
    } else if (credentialsStored !== credentialsWritten || credentialsStored === null) fail(id, 'stored credentials differ from the ones written')
    else {
      const plaintext = tryDecrypt(key, credentialsStored, credentialsContext)
      if (!plaintext || !plaintext.equals(decision.decrypted.plaintext)) fail(id, 'new credentials do not decrypt to the legacy plaintext')
    }

    // Webhook secret: the stored bytes are the computed envelope and decrypt to the legacy secret; NULL stays NULL.
    if (secretStored !== secretWritten) fail(id, 'stored webhook secret differs from the one written')
    else if (secretStored === null) {
      if (secret !== null) fail(id, 'webhook secret does not round-trip')
    } else if (tryDecrypt(key, secretStored, secretContext)?.toString('utf8') !== secret) fail(id, 'webhook secret does not round-trip')
  }
  return problems
}

/**
 * The SQL half of the verification, over the whole legacy table just before
 * it is dropped, comparing stored bytes with stored bytes: every legacy row
 * has an archive row whose copied columns equal its own; its legacy value is
 * kept so `down` gives back the exact bytes — verbatim, or, for a row that
 * decrypted and is lower-case hex, as its own IV (legacy-bytes.ts: with the
 * plaintext verifyBatch proved the new envelope decrypts to, that IV
 * re-encrypts to the stored value, so no legacy re-encryption is needed to
 * prove it); and a merged row's settings row is of the same tenant and
 * channel and carries its sender, webhook URL and verification fields.
 * Returns the mismatching legacy rows (at most 100), with why.
 */
export async function verifyAgainstLegacy(db: Kysely<any>, dialect: Dialect): Promise<VerifyProblem[]> {
  // Null-safe equality (SQLite's IS, PostgreSQL's IS NOT DISTINCT FROM), so no comparison below is ever NULL.
  const same = (a: string, b: string) => (dialect === 'sqlite' ? `${a} IS ${b}` : `${a} IS NOT DISTINCT FROM ${b}`)
  const archiveSame = [
    'a.tenant_id = l.tenant_id',
    'a.channel = l.channel',
    'a.provider = l.provider',
    same('a.messaging_service_sid', 'l.messaging_service_sid'),
    same('a.webhook_url', 'l.webhook_url'),
    'a.is_verified = l.is_verified',
    same('a.verification_error', 'l.verification_error'),
    'a.created_at = l.created_at',
    'a.updated_at = l.updated_at',
  ].join(' AND ')
  const legacyKept = `CASE WHEN a.reason <> 'undecryptable' AND l.credentials_encrypted = lower(l.credentials_encrypted)
      THEN ${same('a.legacy_iv', 'substr(l.credentials_encrypted, 1, 32)')} AND a.legacy_ciphertext IS NULL
      ELSE ${same('a.legacy_ciphertext', 'l.credentials_encrypted')} AND a.legacy_iv IS NULL END`
  const settingsSame = [
    's.tenant_id = l.tenant_id',
    's.channel = l.channel',
    same('s.messaging_service_sid', 'l.messaging_service_sid'),
    same('s.webhook_url', 'l.webhook_url'),
    's.is_verified = l.is_verified',
    same('s.verification_error', 'l.verification_error'),
    same('s.verified_at', 'CASE WHEN l.is_verified <> 0 THEN l.updated_at END'),
  ].join(' AND ')
  const rows = await execute<{id: number; problem: string}>(
    db,
    `SELECT l.id, CASE WHEN a.id IS NULL THEN 'missing from the archive'
        WHEN NOT (${archiveSame}) THEN 'archive row differs from the legacy row'
        WHEN NOT (${legacyKept}) THEN 'legacy ciphertext cannot be rebuilt exactly'
        ELSE 'merged settings row is missing or differs from the legacy row' END AS problem
    FROM ${legacy} AS l LEFT JOIN ${archive} AS a ON a.id = l.id LEFT JOIN ${settings} AS s ON s.id = a.settings_id
    WHERE a.id IS NULL OR NOT (${archiveSame}) OR NOT (${legacyKept})
      OR (a.reason = 'merged' AND (s.id IS NULL OR NOT (${settingsSame})))
    ORDER BY l.id LIMIT 100`,
    [],
  )
  return rows.map((row) => ({id: Number(row.id), problem: String(row.problem)}))
}

/**
 * Throws the verification failure (naming the rows), or confirms the archive
 * holds exactly `total` rows and the legacy table still holds `total` rows
 * (counted again just before it is dropped: a row that appeared since the
 * load would otherwise be dropped unseen).
 */
export async function assertVerified(db: Kysely<any>, problems: readonly VerifyProblem[], total: number): Promise<void> {
  const [counts] = await execute<{archived: number | string; legacy: number | string}>(
    db,
    `SELECT (SELECT COUNT(*) FROM ${archive}) AS archived, (SELECT COUNT(*) FROM ${legacy}) AS legacy`,
    [],
  )
  const archived = Number(counts?.archived ?? 0)
  const legacyNow = Number(counts?.legacy ?? 0)
  const countProblems: VerifyProblem[] = []
  if (legacyNow !== total) countProblems.push({id: 0, problem: `${TABLES.legacy} changed during the migration (${total} rows loaded, ${legacyNow} now)`})
  if (archived !== total) countProblems.push({id: 0, problem: `archive has ${archived} rows for ${total} legacy rows`})
  const all = [...countProblems, ...problems]
  if (all.length > 0) {
    const ids = [...new Set(all.map((entry) => entry.id))]
    throw new MigrationError(
      `Verification failed for ${ids.length} legacy credential row(s) (ids ${ids.slice(0, 20).join(', ')}${ids.length > 20 ? ', …' : ''}): ${all[0]!.problem}. Rolled back; nothing was changed.`,
      {
        code: 'CONSOLIDATION_VERIFY_FAILED',
        suggestions: ['This is a bug or a concurrent writer; re-run with --log-level debug and report the row ids.'],
        details: {problems: all.slice(0, 100)},
      },
    )
  }
}
