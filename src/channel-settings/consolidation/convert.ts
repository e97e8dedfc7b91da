import {encryptField} from '../../crypto/envelope.js'
import type {EncryptionKey} from '../../crypto/encryption-key.js'
import {
  archiveCredentialsContext,
  archiveWebhookContext,
  settingsCredentialsContext,
  settingsWebhookContext,
} from './contexts.js'
import type {RowDecision} from './types.js'
import type {PageWrites} from './write.js'

/** How an archive row keeps its legacy value: the IV only (rebuilt by `down`), or the value verbatim. */
export const LEGACY_KEPT = {iv: 0, verbatim: 1} as const

/**
 * What one archive row gets from JavaScript; every other column is copied
 * from its legacy row in SQL (write.ts):
 * [legacy id, reason, settings id (existing row) or null, settings created 0/1,
 *  ev1 credentials or null, ev1 webhook secret or null, LEGACY_KEPT].
 */
export type ArchiveTuple = [number, string, number | null, 0 | 1, string | null, string | null, 0 | 1]
/** An existing settings row's computed columns: [legacy id, settings id, provider config JSON, ev1 credentials, ev1 webhook secret or null]. */
export type SettingsUpdateTuple = [number, number, string, string, string | null]
/** A created settings row's computed columns: [legacy id, provider config JSON, ev1 credentials, ev1 webhook secret or null]. */
export type SettingsCreateTuple = [number, string, string, string | null]

/**
 * One batch re-encrypted, as the writes take it, plus what verification
 * compares the read-back against: for each decision, the ev1 credentials and
 * webhook-secret envelopes written (wherever they went), or null.
 */
export interface ConvertedBatch {
  decisions: readonly RowDecision[]
  archive: ArchiveTuple[]
  updated: SettingsUpdateTuple[]
  created: SettingsCreateTuple[]
  credentials: (string | null)[]
  secrets: (string | null)[]
}

/**
 * Re-encrypts a batch of legacy rows into the ev1 format. Merged rows put
 * the credentials and webhook secret in the settings row; every other reason
 * keeps them, still encrypted, in the archive row, bound to the legacy id. An
 * empty webhook secret is stored as NULL in settings (nothing can sign with
 * it) and remembered in the archive so `down` restores '' rather than NULL.
 * Undecryptable rows keep their legacy value verbatim and no credentials.
 */
export function convertBatch(key: EncryptionKey, decisions: readonly RowDecision[]): ConvertedBatch {
  const out: ConvertedBatch = {
    decisions,
    archive: new Array(decisions.length),
    updated: [],
    created: [],
    credentials: new Array(decisions.length),
    secrets: new Array(decisions.length),
  }
  for (let index = 0; index < decisions.length; index++) {
    const decision = decisions[index]!
    const entry = decision.decrypted
    const {id, tenant_id: tenantId, channel} = entry.row
    const secret = entry.row.webhook_secret
    if (!entry.ok) {
      const archivedSecret = secret === null ? null : encryptField(key, secret, archiveWebhookContext(id, tenantId, channel))
      out.archive[index] = [id, decision.reason, null, 0, null, archivedSecret, LEGACY_KEPT.verbatim]
      out.credentials[index] = null
      out.secrets[index] = archivedSecret
      continue
    }
    const kept = entry.keptAsIv ? LEGACY_KEPT.iv : LEGACY_KEPT.verbatim
    if (decision.reason !== 'merged') {
      const credentials = encryptField(key, entry.plaintext, archiveCredentialsContext(id, tenantId, channel))
      const archivedSecret = secret === null ? null : encryptField(key, secret, archiveWebhookContext(id, tenantId, channel))
      out.archive[index] = [id, decision.reason, null, 0, credentials, archivedSecret, kept]
      out.credentials[index] = credentials
      out.secrets[index] = archivedSecret
      continue
    }
    const credentials = encryptField(key, entry.plaintext, settingsCredentialsContext(tenantId, channel))
    const config = entry.config
    let settingsSecret: string | null = null
    let archivedSecret: string | null = null
    if (secret === '') archivedSecret = encryptField(key, secret, archiveWebhookContext(id, tenantId, channel))
    else if (secret !== null) settingsSecret = encryptField(key, secret, settingsWebhookContext(tenantId, channel))
    const settingsId = decision.settingsId
    if (settingsId === undefined) out.created.push([id, config, credentials, settingsSecret])
    else out.updated.push([id, settingsId, config, credentials, settingsSecret])
    out.archive[index] = [id, 'merged', settingsId ?? null, settingsId === undefined ? 1 : 0, null, archivedSecret, kept]
    out.credentials[index] = credentials
    out.secrets[index] = settingsSecret ?? archivedSecret
  }
  return out
}

/** The batch's tuples as the writes bind them (one JSON parameter per statement), null where there are none. */
export function serializeWrites(batch: ConvertedBatch): PageWrites {
  const json = (tuples: readonly unknown[]) => (tuples.length === 0 ? null : JSON.stringify(tuples))
  return {updated: json(batch.updated), created: json(batch.created), archive: json(batch.archive)}
}
