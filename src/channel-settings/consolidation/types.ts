/**
 * Shared shapes of the channel-settings consolidation (migration 0002): the
 * legacy `tenant_channel_credentials_v2` rows it reads, the decisions it makes
 * for each of them, and the report `migrate up` prints. See
 * /tmp/team/SCHEMA.md for the target columns.
 */

import {unpackRows, type PackedRows} from './packed-rows.js'

/** Table names the consolidation touches; code only, never input. */
export const TABLES = {
  settings: 'tenant_channel_settings',
  legacy: 'tenant_channel_credentials_v2',
  archive: 'tenant_channel_credentials_archive',
  /** Pre-migration facts `down` needs to restore exactly (DDL text, sequence values). */
  state: 'tenant_channel_consolidation_state',
} as const

/** One `tenant_channel_credentials_v2` row, as the contract defines it. */
export interface LegacyCredentialRow {
  id: number
  tenant_id: string
  channel: string
  provider: string
  credentials_encrypted: string
  messaging_service_sid: string | null
  webhook_url: string | null
  webhook_secret: string | null
  is_verified: number
  verification_error: string | null
  created_at: string
  updated_at: string
}

export const LEGACY_COLUMNS = [
  'id',
  'tenant_id',
  'channel',
  'provider',
  'credentials_encrypted',
  'messaging_service_sid',
  'webhook_url',
  'webhook_secret',
  'is_verified',
  'verification_error',
  'created_at',
  'updated_at',
] as const

/** Columns 0002 adds to `tenant_channel_settings`, in the order it adds them. */
export const NEW_SETTINGS_COLUMNS = [
  'provider_config_json',
  'credentials_encrypted',
  'messaging_service_sid',
  'webhook_url',
  'webhook_secret_encrypted',
  'is_verified',
  'verified_at',
  'verification_error',
] as const

/** The legacy columns of `tenant_channel_settings`, kept untouched by 0002. */
export const LEGACY_SETTINGS_COLUMNS = [
  'id',
  'tenant_id',
  'channel',
  'provider',
  'is_enabled',
  'sender',
  'settings_json',
  'created_at',
  'updated_at',
] as const

export type ArchiveReason = 'merged' | 'superseded' | 'orphaned' | 'undecryptable'
export const ARCHIVE_REASONS: readonly ArchiveReason[] = ['merged', 'superseded', 'orphaned', 'undecryptable']

/**
 * The columns of a legacy row that a crypto worker keeps (load.ts pages them
 * out of the database): what it encrypts and binds the ciphertexts to. The
 * legacy value itself is decrypted and let go (DecryptedRow keeps what is
 * needed of it). The other columns never pass through JavaScript: the
 * writes copy them from the legacy table in SQL and the verification
 * compares them there. What the plan says of the row is in
 * select-live-rows.ts (Plan).
 */
export type LoadedLegacyRow = Pick<LegacyCredentialRow, 'id' | 'tenant_id' | 'channel' | 'provider' | 'webhook_secret'>

/** A legacy row as a page carries it to a worker: LoadedLegacyRow and the legacy value. */
export interface PageRow extends LoadedLegacyRow {
  credentials_encrypted: string
}

/**
 * What a worker keeps of a PageRow once its value is decrypted: the value
 * (a few hundred characters) would otherwise live as long as the row, which
 * for a page decrypted ahead of the plan is until the plan comes.
 */
export function loadedRow(row: PageRow): LoadedLegacyRow {
  return {id: row.id, tenant_id: row.tenant_id, channel: row.channel, provider: row.provider, webhook_secret: row.webhook_secret}
}

/** PageRow's fields in the order a page's tuples carry them (load.ts selects them in this order). */
export const PAGE_ROW_FIELDS = [
  'id',
  'tenant_id',
  'channel',
  'provider',
  'credentials_encrypted',
  'webhook_secret',
] as const satisfies readonly (keyof PageRow)[]

/**
 * A page of rows on its way to a crypto worker (page-rows.ts): from SQLite,
 * one JSON array of tuples, each row's values in its fields' order; from
 * PostgreSQL, the rows packed into one string (packed-rows.ts); or the row
 * objects themselves.
 */
export type PageRows<T> = string | PackedRows | T[]

/**
 * The rows of a page, whichever way they came, as objects in id order
 * (`fields` names the tuple positions; the first is the id); runs in the
 * worker. Packed rows are unpacked as they are asked for, in the order
 * packed (PostgreSQL's pages are selected in id order).
 */
export function rowsOf<T extends {id: number}>(page: PageRows<T>, fields: readonly (keyof T & string)[]): Iterable<T> {
  if (Array.isArray(page)) return page
  if (typeof page !== 'string') return unpackRows<T>(page, fields)
  const tuples = JSON.parse(page) as unknown[][]
  const rows: T[] = new Array(tuples.length)
  for (let index = 0; index < tuples.length; index++) {
    const tuple = tuples[index]!
    const row: Record<string, unknown> = {}
    for (let field = 0; field < fields.length; field++) row[fields[field]!] = tuple[field]
    rows[index] = row as T
  }
  // SQLite aggregates a page without an ORDER BY (a sort of every row's JSON costs more than this check).
  for (let index = 1; index < rows.length; index++) {
    if (rows[index]!.id < rows[index - 1]!.id) return rows.sort((a, b) => a.id - b.id)
  }
  return rows
}

/** A legacy row once decrypted: its plaintext, or why it has none. */
export type DecryptedRow =
  | {
      row: LoadedLegacyRow
      ok: true
      plaintext: Buffer
      /** Whether `down` can rebuild the legacy value from its IV (legacy-bytes.ts). */
      keptAsIv: boolean
      /** The provider config JSON (the non-secret part of the credentials). */
      config: string
    }
  | {row: LoadedLegacyRow; ok: false; problem: string}

/** What happens to one legacy row. */
export interface RowDecision {
  decrypted: DecryptedRow
  reason: ArchiveReason
  /** For 'merged': the settings row it merges into, existing or created by 0002 (select-live-rows.ts Plan.parse); else undefined. */
  settingsId: number | undefined
  /** Whether 0002 creates that settings row (only ever for 'merged'). */
  createsSettings: boolean
}

/** One row of `tenant_channel_credentials_archive`. */
export interface ArchiveRow {
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
  reason: ArchiveReason
  settings_id: number | null
  settings_created: number
  archived_at: string
}

/** The new columns of one settings row, as 0002 writes them. */
export interface SettingsCredentials {
  provider_config_json: string
  credentials_encrypted: string
  messaging_service_sid: string | null
  webhook_url: string | null
  webhook_secret_encrypted: string | null
  is_verified: number
  verified_at: string | null
  verification_error: string | null
}

/**
 * What `migrate up` (and `--dry-run`) prints for 0002: counts and row ids
 * only, never a credential. Deterministic for a given database, so the dry
 * run's report equals the real run's.
 */
export interface ConsolidationReport {
  [key: string]: unknown
  legacyCredentialRows: number
  merge: {intoExistingSettings: number; createdDisabledSettings: number}
  /** Settings rows with no live credentials: left as they were. */
  settingsRowsUnchanged: number
  archive: {total: number; byReason: Record<ArchiveReason, number>}
  undecryptableRowIds: number[]
}
