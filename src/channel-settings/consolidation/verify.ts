import {sql, type Kysely} from 'kysely'
import {decryptField} from '../../crypto/envelope.js'
import type {EncryptionKey} from '../../crypto/encryption-key.js'
import {encryptLegacy} from '../../crypto/legacy-cbc.js'
import {MigrationError} from '../../errors/engage-error.js'
import {
  archiveCredentialsContext,
  archiveWebhookContext,
  settingsCredentialsContext,
  settingsWebhookContext,
} from './contexts.js'
import {TABLES, type RowDecision} from './types.js'

/* eslint-disable @typescript-eslint/no-explicit-any */

interface StoredRow {
  id: number
  tenant_id: string
  channel: string
  provider: string
  reason: string
  credentials_encrypted: string | null
  webhook_secret_encrypted: string | null
  messaging_service_sid: string | null
  webhook_url: string | null
  is_verified: number
  verification_error: string | null
  created_at: string
  updated_at: string
  legacy_iv: string | null
  legacy_ciphertext: string | null
  settings_id: number | null
  s_id: number | null
  s_credentials: string | null
  s_webhook: string | null
  s_messaging_service_sid: string | null
  s_webhook_url: string | null
  s_is_verified: number | null
  s_verification_error: string | null
}

function tryDecrypt(key: EncryptionKey, envelope: string, context: Parameters<typeof decryptField>[2]): Buffer | undefined {
  try {
    return decryptField(key, envelope, context)
  } catch {
    return undefined
  }
}

export interface VerifyProblem {
  id: number
  problem: string
}

/**
 * Reads back what one batch wrote and proves nothing was lost, before commit:
 * each legacy row has its archive row; every merged row's settings
 * credentials (and every other row's archived ones) decrypt to the legacy
 * plaintext; the legacy ciphertext can be rebuilt byte for byte from archive +
 * settings (what `down` will do). Batches keep the read-back small; the
 * caller throws (and so rolls back) via assertVerified.
 */
export async function verifyBatch(
  db: Kysely<any>,
  key: EncryptionKey,
  decisions: readonly RowDecision[],
): Promise<VerifyProblem[]> {
  const first = decisions[0]?.decrypted.row.id
  const last = decisions.at(-1)?.decrypted.row.id
  if (first === undefined || last === undefined) return []
  const {rows} = await sql<StoredRow>`SELECT a.id, a.tenant_id, a.channel, a.provider, a.reason, a.credentials_encrypted,
      a.webhook_secret_encrypted, a.messaging_service_sid, a.webhook_url, a.is_verified, a.verification_error,
      a.created_at, a.updated_at, a.legacy_iv, a.legacy_ciphertext, a.settings_id,
      s.id AS s_id, s.credentials_encrypted AS s_credentials, s.webhook_secret_encrypted AS s_webhook,
      s.messaging_service_sid AS s_messaging_service_sid, s.webhook_url AS s_webhook_url,
      s.is_verified AS s_is_verified, s.verification_error AS s_verification_error
    FROM ${sql.table(TABLES.archive)} a LEFT JOIN ${sql.table(TABLES.settings)} s ON s.id = a.settings_id
    WHERE a.id >= ${first} AND a.id <= ${last}`.execute(db)
  const stored = new Map(rows.map((row) => [Number(row.id), row]))
  const problems: VerifyProblem[] = []
  const fail = (id: number, problem: string) => problems.push({id, problem})
  if (stored.size !== decisions.length) fail(first, `archive has ${stored.size} rows for the ${decisions.length} legacy rows ${first}–${last}`)
  for (const decision of decisions) {
    const original = decision.decrypted.row
    const row = stored.get(original.id)
    if (!row) {
      fail(original.id, 'missing from the archive')
      continue
    }
    if (row.reason !== decision.reason) fail(original.id, `archived as ${row.reason}, planned ${decision.reason}`)
    for (const column of ['tenant_id', 'channel', 'provider', 'messaging_service_sid', 'webhook_url', 'verification_error', 'created_at', 'updated_at'] as const) {
      if (row[column] !== original[column]) fail(original.id, `archive ${column} differs`)
    }
    if (Number(row.is_verified) !== original.is_verified) fail(original.id, 'archive is_verified differs')
    const merged = decision.reason === 'merged'
    if (merged) {
      if (row.s_id === null) {
        fail(original.id, 'merged into a settings row that does not exist')
        continue
      }
      if (row.s_messaging_service_sid !== original.messaging_service_sid || row.s_webhook_url !== original.webhook_url
        || Number(row.s_is_verified) !== original.is_verified || row.s_verification_error !== original.verification_error) {
        fail(original.id, 'settings row metadata differs from the legacy row')
      }
    }
    // Credentials: decrypt what was stored and rebuild the legacy bytes from it.
    let plaintext: Buffer | undefined
    if (!decision.decrypted.ok) {
      if (row.legacy_ciphertext !== original.credentials_encrypted) fail(original.id, 'undecryptable row not kept verbatim')
    } else {
      const envelope = merged ? row.s_credentials : row.credentials_encrypted
      const context = merged
        ? settingsCredentialsContext(row.tenant_id, row.channel)
        : archiveCredentialsContext(original.id, row.tenant_id, row.channel)
      plaintext = envelope === null ? undefined : tryDecrypt(key, envelope, context)
      if (!plaintext || !plaintext.equals(decision.decrypted.plaintext)) fail(original.id, 'new credentials do not decrypt to the legacy plaintext')
      else {
        const rebuilt = row.legacy_ciphertext ?? (row.legacy_iv ? encryptLegacy(key.key, plaintext, Buffer.from(row.legacy_iv, 'hex')) : null)
        if (rebuilt !== original.credentials_encrypted) fail(original.id, 'legacy ciphertext cannot be rebuilt exactly')
      }
    }
    // Webhook secret: settings (merged, non-empty) or archive, NULL and '' kept apart.
    let secret: string | null = null
    const secretEnvelope = merged && row.s_webhook !== null ? row.s_webhook : row.webhook_secret_encrypted
    if (secretEnvelope !== null) {
      const context = merged && row.s_webhook !== null
        ? settingsWebhookContext(row.tenant_id, row.channel)
        : archiveWebhookContext(original.id, row.tenant_id, row.channel)
      const decrypted = tryDecrypt(key, secretEnvelope, context)
      secret = decrypted === undefined ? '\u0000undecryptable' : decrypted.toString('utf8')
    }
    if (secret !== original.webhook_secret) fail(original.id, 'webhook secret does not round-trip')
  }
  return problems
}

/**
 * Throws the verification failure (naming the rows), or confirms the archive
 * holds exactly `total` rows and the legacy table still holds `total` rows
 * (`legacyNow`, counted again just before it is dropped: a row that appeared
 * since the load would otherwise be dropped unseen).
 */
export async function assertVerified(db: Kysely<any>, problems: readonly VerifyProblem[], total: number, legacyNow: number): Promise<void> {
  const {rows} = await sql<{n: number | string}>`SELECT COUNT(*) AS n FROM ${sql.table(TABLES.archive)}`.execute(db)
  const archived = Number(rows[0]?.n ?? 0)
  const counts: VerifyProblem[] = []
  if (legacyNow !== total) counts.push({id: 0, problem: `${TABLES.legacy} changed during the migration (${total} rows loaded, ${legacyNow} now)`})
  if (archived !== total) counts.push({id: 0, problem: `archive has ${archived} rows for ${total} legacy rows`})
  const all = [...counts, ...problems]
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
