import {encryptField} from '../../crypto/envelope.js'
import type {EncryptionKey} from '../../crypto/encryption-key.js'
import {
  archiveCredentialsContext,
  archiveWebhookContext,
  settingsCredentialsContext,
  settingsWebhookContext,
} from './contexts.js'
import {int4Array, textArray} from '../../db/pg-binary-array.js'
import {jsonbRows, type JsonbCell} from '../../db/sqlite-jsonb.js'
import {ARCHIVE_COLUMNS, SETTINGS_COLUMNS, type ComputedColumn, type ComputedRows, type RowsEncoding} from './computed-columns.js'
import type {ArchiveReason, RowDecision} from './types.js'
import type {PageWrites} from './write.js'

/**
 * Where a legacy row's webhook secret is written: nowhere when it has none;
 * the settings row for a merged row's non-empty secret; otherwise the
 * archive row, a merged row's '' included (settings cannot sign with it, and
 * `down` must give back '' rather than NULL).
 */
export type SecretHome = null | 'settings' | 'archive'

export function secretHome(reason: ArchiveReason, secret: string | null): SecretHome {
  if (secret === null) return null
  return reason === 'merged' && secret !== '' ? 'settings' : 'archive'
}

/** How an archive row keeps its legacy value: the IV only (rebuilt by `down`), or the value verbatim. */
export const LEGACY_KEPT = {iv: 0, verbatim: 1} as const

/**
 * What one archive row gets from JavaScript; every other column is copied
 * from its legacy row in SQL (write.ts):
 * [legacy id, reason, settings id (merged rows) or null, settings created 0/1,
 *  ev1 credentials or null, ev1 webhook secret or null, LEGACY_KEPT].
 */
export type ArchiveTuple = [number, string, number | null, 0 | 1, string | null, string | null, 0 | 1]
/** A settings row's computed columns, existing or created: [legacy id, settings id, provider config JSON, ev1 credentials, ev1 webhook secret or null]. */
export type SettingsTuple = [number, number, string, string, string | null]

/** A page's tuples as the writes take them, in legacy id order. */
export interface PageTuples {
  archive: ArchiveTuple[]
  updated: SettingsTuple[]
  created: SettingsTuple[]
}

/** The ev1 credentials and webhook-secret envelopes written for one legacy row (wherever they went), or null. */
export interface RowEnvelopes {
  credentials: string | null
  secret: string | null
}

/**
 * Re-encrypts one legacy row into the ev1 format and appends its tuples to
 * `tuples`. A merged row puts the credentials and webhook secret in the
 * settings row; every other reason keeps them, still encrypted, in the
 * archive row, bound to the legacy id. An empty webhook secret is stored as
 * NULL in settings (nothing can sign with it) and remembered in the archive
 * so `down` restores '' rather than NULL. An undecryptable row keeps its
 * legacy value verbatim and no credentials.
 */
export function convertRow(key: EncryptionKey, decision: RowDecision, tuples: PageTuples): RowEnvelopes {
  const entry = decision.decrypted
  const {id, tenant_id: tenantId, channel} = entry.row
  const secret = entry.row.webhook_secret
  if (!entry.ok) {
    const archivedSecret = secret === null ? null : encryptField(key, secret, archiveWebhookContext(id, tenantId, channel))
    tuples.archive.push([id, decision.reason, null, 0, null, archivedSecret, LEGACY_KEPT.verbatim])
    return {credentials: null, secret: archivedSecret}
  }
  const kept = entry.keptAsIv ? LEGACY_KEPT.iv : LEGACY_KEPT.verbatim
  if (decision.reason !== 'merged') {
    const credentials = encryptField(key, entry.plaintext, archiveCredentialsContext(id, tenantId, channel))
    const archivedSecret = secret === null ? null : encryptField(key, secret, archiveWebhookContext(id, tenantId, channel))
    tuples.archive.push([id, decision.reason, null, 0, credentials, archivedSecret, kept])
    return {credentials, secret: archivedSecret}
  }
  const credentials = encryptField(key, entry.plaintext, settingsCredentialsContext(tenantId, channel))
  const config = entry.config
  let settingsSecret: string | null = null
  let archivedSecret: string | null = null
  const home = secretHome(decision.reason, secret)
  if (home === 'archive') archivedSecret = encryptField(key, secret!, archiveWebhookContext(id, tenantId, channel))
  else if (home === 'settings') settingsSecret = encryptField(key, secret!, settingsWebhookContext(tenantId, channel))
  const settingsId = decision.settingsId!
  const settingsTuples = decision.createsSettings ? tuples.created : tuples.updated
  settingsTuples.push([id, settingsId, config, credentials, settingsSecret])
  tuples.archive.push([id, 'merged', settingsId, decision.createsSettings ? 1 : 0, null, archivedSecret, kept])
  return {credentials, secret: settingsSecret ?? archivedSecret}
}

/** One statement's tuples as PostgreSQL binds them: one binary array per column. */
function columnArrays(tuples: readonly unknown[][], columns: readonly ComputedColumn[]): Uint8Array[] {
  return columns.map((column, position) => {
    const values = tuples.map((tuple) => tuple[position])
    return column.integer ? int4Array(values as (number | null)[]) : textArray(values as (string | null)[])
  })
}

/** The page's tuples as the writes bind them (computed-columns.ts ComputedRows), null where there are none. */
export function serializeWrites(tuples: PageTuples, encoding: RowsEncoding): PageWrites {
  const encode = (rows: readonly unknown[][], columns: readonly ComputedColumn[]): ComputedRows | null => {
    if (rows.length === 0) return null
    return encoding === 'sqlite-jsonb' ? jsonbRows(rows as JsonbCell[][]) : columnArrays(rows, columns)
  }
  return {
    updated: encode(tuples.updated, SETTINGS_COLUMNS),
    created: encode(tuples.created, SETTINGS_COLUMNS),
    archive: encode(tuples.archive, ARCHIVE_COLUMNS),
  }
}
