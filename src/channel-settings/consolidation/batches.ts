import type {Dialect} from '../../db/database.js'

/**
 * Bound parameters per statement: SQLite's SQLITE_MAX_VARIABLE_NUMBER default
 * (32766 since 3.32) and PostgreSQL's wire-protocol limit (65535), with room.
 */
const MAX_PARAMETERS: Record<Dialect, number> = {sqlite: 32_000, postgres: 60_000}

/** How many rows of `columns` parameters one multi-row statement may carry. */
export function rowsPerStatement(dialect: Dialect, columns: number): number {
  return Math.max(1, Math.floor(MAX_PARAMETERS[dialect] / columns))
}

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = []
  for (let start = 0; start < items.length; start += size) out.push(items.slice(start, start + size))
  return out
}

/** Rows per page: loaded, converted, written and verified together (and what `down` restores per statement). */
export const CONVERT_BATCH_ROWS = 5000

/** The first page's rows; each page after it doubles, up to CONVERT_BATCH_ROWS. */
const FIRST_PAGE_ROWS = 256

/**
 * The size of page `index` of the conversion. The first pages are small
 * because nothing can be written until the first page is converted: a full
 * first page kept the database idle for a quarter of a second while a
 * worker converted it. Doubling fills the pipeline within a few pages, and
 * full pages keep the per-statement cost low after that.
 */
export function pageRows(index: number): number {
  return index >= 16 ? CONVERT_BATCH_ROWS : Math.min(CONVERT_BATCH_ROWS, FIRST_PAGE_ROWS * 2 ** index)
}

/**
 * Rows loaded, and decrypted by the workers, before the plan is computed
 * (page-loader.ts): at 100,000 legacy rows the plan takes the database
 * about as long as two workers take to decrypt this many, and loading them
 * first costs only their loading, which is due anyway. A bound, not a share
 * of the rows, so a larger migration keeps no more of them in memory.
 */
export const ROWS_DECRYPTED_BEFORE_PLAN = 50_000
