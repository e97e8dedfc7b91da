import {encryptField} from '../../crypto/envelope.js'
import type {EncryptionKey} from '../../crypto/encryption-key.js'
import {
  archiveCredentialsContext,
  archiveWebhookContext,
  settingsCredentialsContext,
  settingsWebhookContext,
} from './contexts.js'
import {BinaryArrayBuilder} from '../../db/pg-binary-array.js'
import {JsonbRowsBuilder, type JsonbCell} from '../../db/sqlite-jsonb.js'
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

/** Where convertRow puts a statement's tuples. */
export interface TupleSink<T> {
  push(tuple: T): void
}

/** A page's tuples as the writes take them, in legacy id order. */
export interface PageTuples {
  archive: TupleSink<ArchiveTuple>
  updated: TupleSink<SettingsTuple>
  created: TupleSink<SettingsTuple>
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

/**
 * One statement's tuples encoded as they come, as its write binds them
 * (computed-columns.ts ComputedRows): on SQLite into one JSONB value, on
 * PostgreSQL into one binary array per column. Nothing of a row is kept in
 * JavaScript once it is encoded.
 */
class EncodedTuples<T extends readonly JsonbCell[]> implements TupleSink<T> {
  private rows = 0
  private readonly jsonb: JsonbRowsBuilder | undefined
  private readonly arrays: BinaryArrayBuilder[]

  constructor(
    encoding: RowsEncoding,
    private readonly columns: readonly ComputedColumn[],
  ) {
    this.jsonb = encoding === 'sqlite-jsonb' ? new JsonbRowsBuilder() : undefined
    this.arrays = this.jsonb ? [] : columns.map((column) => new BinaryArrayBuilder(column.integer ? 'int4' : 'text'))
  }

  push(tuple: T): void {
    this.rows++
    if (this.jsonb) return this.jsonb.addRow(tuple)
    for (let position = 0; position < this.columns.length; position++) {
      const value = tuple[position]!
      if (this.columns[position]!.integer) this.arrays[position]!.addInteger(value as number | null)
      else this.arrays[position]!.addText(value as string | null)
    }
  }

  /** The statement's rows, or null when it has none. */
  finish(): ComputedRows | null {
    if (this.rows === 0) return null
    return this.jsonb ? this.jsonb.finish() : this.arrays.map((array) => array.finish())
  }
}

/** A page's tuples, encoded for the dialect's writes as convertRow computes them. */
export class PageEncoder implements PageTuples {
  readonly archive: EncodedTuples<ArchiveTuple>
  readonly updated: EncodedTuples<SettingsTuple>
  readonly created: EncodedTuples<SettingsTuple>

  constructor(encoding: RowsEncoding) {
    this.archive = new EncodedTuples(encoding, ARCHIVE_COLUMNS)
    this.updated = new EncodedTuples(encoding, SETTINGS_COLUMNS)
    this.created = new EncodedTuples(encoding, SETTINGS_COLUMNS)
  }

  /** What the page's writes bind, null where a statement has no rows. */
  finish(): PageWrites {
    return {updated: this.updated.finish(), created: this.created.finish(), archive: this.archive.finish()}
  }
}
