import {decryptField, type FieldContext} from '../../crypto/envelope.js'
import type {EncryptionKey} from '../../crypto/encryption-key.js'
import {
  archiveCredentialsContext,
  archiveWebhookContext,
  settingsCredentialsContext,
  settingsWebhookContext,
} from './contexts.js'
import type {ConvertedBatch} from './convert.js'
import {rowsOf, type PageRows} from './types.js'

/** What the check needs of a converted page: its decisions and, per decision, the envelopes written. */
export type WrittenPage = Pick<ConvertedBatch, 'decisions' | 'credentials' | 'secrets'>

/*
 * The JavaScript half of the verification, run by the crypto worker that
 * converted a page (no database access here: verify.ts reads, this checks).
 */

/** What the read-back returns for one archive row and the settings row it points at (verify.ts storedColumns). */
export interface StoredRow {
  id: number
  reason: string
  settings_id: number | null
  settings_created: number
  credentials_encrypted: string | null
  webhook_secret_encrypted: string | null
  s_id: number | null
  s_credentials: string | null
  s_webhook: string | null
  /** What the SQL half of the verification found wrong with the row against its legacy row, or null (verify.ts). */
  legacy_problem: string | null
}

/** StoredRow's fields in the order a read-back page's tuples carry them (verify.ts selects them in this order). */
export const STORED_ROW_FIELDS = [
  'id',
  'reason',
  'settings_id',
  'settings_created',
  'credentials_encrypted',
  'webhook_secret_encrypted',
  's_id',
  's_credentials',
  's_webhook',
  'legacy_problem',
] as const satisfies readonly (keyof StoredRow)[]

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
export function checkStoredPage(key: EncryptionKey, batch: WrittenPage, stored: PageRows<StoredRow>): VerifyProblem[] {
  const {decisions} = batch
  const first = decisions[0]?.decrypted.row.id
  const last = decisions.at(-1)?.decrypted.row.id
  if (first === undefined || last === undefined) return []
  const rows = rowsOf(stored, STORED_ROW_FIELDS)
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
    if (row.legacy_problem !== null) fail(id, row.legacy_problem)
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

