import {type Kysely} from 'kysely'
import type {Dialect} from '../../db/database.js'
import {MigrationError} from '../../errors/engage-error.js'
import {STORED_FIELD, STORED_NULL, STORED_ROW_END, STORED_ROW_FIELDS, type StoredPage, type StoredRow, type VerifyProblem} from './check-stored.js'
import {TABLES} from './types.js'
import {execute} from './write.js'

export type {VerifyProblem} from './check-stored.js'

/* eslint-disable @typescript-eslint/no-explicit-any */

const archive = `"${TABLES.archive}"`
const settings = `"${TABLES.settings}"`
const legacy = `"${TABLES.legacy}"`

/** Null-safe equality (SQLite's IS, PostgreSQL's IS NOT DISTINCT FROM), so no comparison is ever NULL. */
function nullSafeEqual(dialect: Dialect): (a: string, b: string) => string {
  return (a, b) => (dialect === 'sqlite' ? `${a} IS ${b}` : `${a} IS NOT DISTINCT FROM ${b}`)
}

/**
 * The SQL half of the verification, as one expression per archive row
 * (`a`, with its legacy row `l` and settings row `s`), comparing stored
 * bytes with stored bytes: the archive row's copied columns equal its legacy
 * row's; its legacy value is kept so `down` gives back the exact bytes —
 * verbatim, or as its own IV (a row that decrypted only; with the plaintext
 * the new envelope is proved to decrypt to, that IV re-encrypts to the stored
 * value when it is lower-case hex, legacy-bytes.ts); and a merged row's
 * settings row is of the same tenant and channel and carries its sender,
 * webhook URL and verification fields. NULL when all holds, else why not.
 * Whether the IV alone may be kept (the value is lower-case) is the worker's
 * to check, from the value it decrypted, against `iv_kept`: SQL's lower()
 * over every legacy value cost PostgreSQL a third of the read-back.
 */
function legacyProblem(dialect: Dialect): string {
  const same = nullSafeEqual(dialect)
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
  const legacyKept = `CASE WHEN a.legacy_iv IS NULL THEN ${same('a.legacy_ciphertext', 'l.credentials_encrypted')}
      ELSE a.reason <> 'undecryptable' AND a.legacy_ciphertext IS NULL AND a.legacy_iv = substr(l.credentials_encrypted, 1, 32) END`
  return `CASE WHEN l.id IS NULL THEN 'archive row has no legacy row'
    WHEN NOT (${archiveSame}) THEN 'archive row differs from the legacy row'
    WHEN NOT (${legacyKept}) THEN 'legacy ciphertext cannot be rebuilt exactly'
    WHEN a.reason = 'merged' AND (s.id IS NULL OR NOT (${settingsSameAs(dialect, 'l')})) THEN '${SETTINGS_ROW_DIFFERS}'
    END`
}

/**
 * Whether settings row `s`, a merged row's, carries what it copies from
 * legacy row `legacy` (an alias): its tenant and channel, sender, webhook
 * URL and verification fields.
 */
export function settingsSameAs(dialect: Dialect, legacy: string): string {
  const same = nullSafeEqual(dialect)
  return [
    `s.tenant_id = ${legacy}.tenant_id`,
    `s.channel = ${legacy}.channel`,
    same('s.messaging_service_sid', `${legacy}.messaging_service_sid`),
    same('s.webhook_url', `${legacy}.webhook_url`),
    `s.is_verified = ${legacy}.is_verified`,
    same('s.verification_error', `${legacy}.verification_error`),
    same('s.verified_at', `CASE WHEN ${legacy}.is_verified <> 0 THEN ${legacy}.updated_at END`),
  ].join(' AND ')
}

/** The problem legacyProblem names for a merged row whose settings row is missing or differs. */
export const SETTINGS_ROW_DIFFERS = 'merged settings row is missing or differs from the legacy row'

/** What the read-back selects: StoredRow's fields, by name, over `a` (archive), `s` (settings) and `l` (legacy). */
export function storedColumns(dialect: Dialect): StoredColumns {
  return {
    id: 'a.id',
    reason: 'a.reason',
    settings_id: 'a.settings_id',
    settings_created: 'a.settings_created',
    credentials_encrypted: 'a.credentials_encrypted',
    webhook_secret_encrypted: 'a.webhook_secret_encrypted',
    s_id: 's.id',
    s_credentials: 's.credentials_encrypted',
    s_webhook: 's.webhook_secret_encrypted',
    iv_kept: 'CASE WHEN a.legacy_iv IS NULL THEN 0 ELSE 1 END',
    legacy_problem: legacyProblem(dialect),
  }
}

/** SQL for each of StoredRow's fields. */
export type StoredColumns = Record<keyof StoredRow, string>

/**
 * SQL for one row's text as check-stored.ts STORED_FIELD describes it, from
 * columns named as StoredRow's fields: in STORED_ROW_FIELDS order, each as
 * STORED_FIELD and its text or STORED_NULL, then STORED_ROW_END. The same
 * on both dialects: `||` with a NULL is NULL, which COALESCE turns into
 * STORED_NULL. (concat() would skip NULLs itself, but PostgreSQL looks up
 * the output function of each of its arguments on every call, which cost
 * its server more than the whole read-back's rows did.)
 */
export function storedRowText(): string {
  const literal = (text: string) => `'${text.replace(/'/g, "''")}'`
  const fields = STORED_ROW_FIELDS.map((name) => `COALESCE(${literal(STORED_FIELD)} || CAST("${name}" AS TEXT), ${literal(STORED_NULL)})`)
  return [...fields, literal(STORED_ROW_END)].join(' || ')
}

/**
 * Reads back what is stored for a page's legacy ids: on SQLite after each
 * page's writes and before its legacy rows are deleted; on PostgreSQL, which
 * reads a page back as it writes it (write-returning.ts), only for a page
 * whose digest differed, once every page is written (consolidate.ts
 * storedPageProblems). Each archive row and the settings row it points at,
 * with the SQL half of the verification (legacyProblem), for the crypto
 * worker that converted the page to check (checkStoredPage). A legacy row
 * without its archive row is caught there, and a legacy row that was not
 * loaded by assertVerified's count.
 *
 * The rows come as one text the database concatenates (storedRowText), not
 * as rows: this thread then passes on one string instead of parsing eleven
 * values a row and copying them to the worker, which compares the text
 * with the one it expects in one go. The rows are ordered by id before they
 * are concatenated, not by the aggregate, which would sort the finished
 * texts (a quarter of SQLite's read-back); SQLite then sorts nothing, as it
 * scans the archive by rowid, which is the id. SQL does not promise that an
 * aggregate takes rows in its subquery's order, so rows in another order
 * are no failure: they only send the check the long way round
 * (check-stored.ts checkStoredPage).
 */
export async function readBackPage(db: Kysely<any>, dialect: Dialect, first: number, last: number): Promise<StoredPage> {
  const p = (n: number) => (dialect === 'sqlite' ? '?' : `$${n}`)
  const from = `FROM ${archive} AS a LEFT JOIN ${settings} AS s ON s.id = a.settings_id LEFT JOIN ${legacy} AS l ON l.id = a.id
      WHERE a.id >= ${p(1)} AND a.id <= ${p(2)}`
  const [page] = await execute<StoredPageRow>(db, storedPageSql(storedColumns(dialect), from, 'a.id'), [first, last])
  return storedPage(page)
}

/** What storedPageSql selects: the text, or its digest. */
export interface StoredPageRow {
  rows: number | string
  text?: string | null
  digest?: Uint8Array | null
}

/**
 * SQL for a page's StoredRows as one text (storedRowText) and their count:
 * `columns` over `from` (a FROM clause and its conditions), ordered by
 * `order` before they are concatenated, not by the aggregate, which would
 * sort the finished texts. As `digest` (PostgreSQL), the text's SHA-256
 * rather than the text (check-stored.ts StoredPage).
 */
export function storedPageSql(columns: StoredColumns, from: string, order: string, form: 'text' | 'digest' = 'text'): string {
  // string_agg: PostgreSQL, and SQLite from 3.44 (better-sqlite3 12 bundles 3.5x).
  const text = `string_agg(${storedRowText()}, '')`
  const selected = form === 'text' ? `${text} AS text` : `sha256(convert_to(COALESCE(${text}, ''), 'UTF8')) AS digest`
  return `SELECT COUNT(*) AS rows, ${selected}
    FROM (SELECT ${STORED_ROW_FIELDS.map((name) => `${columns[name]} AS "${name}"`).join(', ')}
      ${from} ORDER BY ${order}) AS stored`
}

/** storedPageSql's row as the StoredPage the worker checks. */
export function storedPage(row: StoredPageRow | undefined): StoredPage {
  const rows = Number(row?.rows ?? 0)
  return row?.digest ? {rows, digest: row.digest} : {rows, text: row?.text ?? ''}
}

/**
 * Throws the verification failure (naming the rows), or confirms the archive
 * holds exactly `total` rows and the legacy table still holds the `total`
 * rows less the `released` ones (write.ts releaseLegacyPage), counted again
 * just before it is dropped: a row that appeared since the load would
 * otherwise be dropped unseen.
 */
export async function assertVerified(db: Kysely<any>, problems: readonly VerifyProblem[], total: number, released: number): Promise<void> {
  const [counts] = await execute<{archived: number | string; legacy: number | string}>(
    db,
    `SELECT (SELECT COUNT(*) FROM ${archive}) AS archived, (SELECT COUNT(*) FROM ${legacy}) AS legacy`,
    [],
  )
  const archived = Number(counts?.archived ?? 0)
  const legacyNow = Number(counts?.legacy ?? 0)
  const countProblems: VerifyProblem[] = []
  if (legacyNow !== total - released) {
    countProblems.push({id: 0, problem: `${TABLES.legacy} changed during the migration (${total} rows loaded, ${released} archived and deleted, ${legacyNow} left)`})
  }
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
