/**
 * The columns a page's writes take from JavaScript, by tuple position
 * (convert.ts SettingsTuple, ArchiveTuple); every other column is copied
 * from the legacy row in SQL (write.ts). Shared by the crypto worker, which
 * encodes the tuples, and write.ts, which reads them back into rows.
 */

import type {Dialect} from '../../db/database.js'

/** One computed column: its name in SQL, and whether it is an integer (else text). */
export interface ComputedColumn {
  name: string
  integer?: boolean
}

/** SettingsTuple's positions, for the update and the insert alike. */
export const SETTINGS_COLUMNS: readonly ComputedColumn[] = [
  {name: 'legacy_id', integer: true},
  {name: 'settings_id', integer: true},
  {name: 'config'},
  {name: 'credentials'},
  {name: 'secret'},
]

/** ArchiveTuple's positions. */
export const ARCHIVE_COLUMNS: readonly ComputedColumn[] = [
  {name: 'id', integer: true},
  {name: 'reason'},
  {name: 'settings_id', integer: true},
  {name: 'created', integer: true},
  {name: 'credentials'},
  {name: 'secret'},
  {name: 'kept', integer: true},
]

/**
 * A page's tuples for one statement, as it binds them: on SQLite one JSONB
 * value, an array of the tuples (sqlite-jsonb.ts; `jsonb_each` reads it);
 * on PostgreSQL one binary array per column (pg-binary-array.ts; `unnest`
 * reads them). Either way the database reads binary, not JSON text it
 * would parse, and the worker writes bytes rather than a JSON string.
 */
export type ComputedRows = Uint8Array | Uint8Array[]

/** How a crypto worker encodes a page's tuples: what the dialect's writes read. */
export type RowsEncoding = 'sqlite-jsonb' | 'pg-arrays'

export function rowsEncodingFor(dialect: Dialect): RowsEncoding {
  return dialect === 'sqlite' ? 'sqlite-jsonb' : 'pg-arrays'
}
