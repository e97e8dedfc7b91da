import type {Kysely} from 'kysely'
import type {Dialect} from '../../db/database.js'
import {MigrationError} from '../../errors/engage-error.js'
import type {StoredPage} from './check-stored.js'
import {TABLES} from './types.js'
import {readBackPage, SETTINGS_ROW_DIFFERS, settingsSameAs, storedColumns, storedPage, storedPageSql, type StoredColumns, type StoredPageRow} from './verify.js'
import {execute, insertArchiveRowsSql, insertCreatedSettingsSql, rowsParameters, updateExistingSettingsSql, writePage, type PageWrites} from './write.js'

/* eslint-disable @typescript-eslint/no-explicit-any */

const settings = `"${TABLES.settings}"`

/**
 * Writes a page of legacy ids `first`–`last` and reads back what is stored
 * for them, for the worker that converted it to check (check-stored.ts
 * checkStoredPage): on PostgreSQL in one statement
 * (writePageReturningStored); on SQLite as the writes, then the read-back
 * (verify.ts readBackPage).
 */
export async function writePageReadingBack(
  db: Kysely<any>,
  dialect: Dialect,
  writes: PageWrites,
  archivedAt: string,
  first: number,
  last: number,
): Promise<StoredPage> {
  if (dialect === 'postgres') return writePageReturningStored(db, writes, archivedAt)
  await writePage(db, dialect, writes, archivedAt)
  return readBackPage(db, dialect, first, last)
}

/** The settings columns a merged row's check reads (verify.ts settingsSameAs), and the envelopes. */
const SETTINGS_RETURNED = ['id', 'tenant_id', 'channel', 'messaging_service_sid', 'webhook_url', 'is_verified', 'verification_error', 'verified_at', 'credentials_encrypted', 'webhook_secret_encrypted']
  .map((column) => `${settings}.${column}`)
  .join(', ')

/** The archive columns the read-back reads of `a`, and those the settings rows are checked against. */
const ARCHIVE_RETURNED = [
  'id', 'reason', 'settings_id', 'settings_created', 'credentials_encrypted', 'webhook_secret_encrypted', 'legacy_iv',
  'tenant_id', 'channel', 'messaging_service_sid', 'webhook_url', 'is_verified', 'verification_error', 'updated_at',
].join(', ')

/**
 * The read-back's fields (verify.ts storedColumns) over the rows returned:
 * `a` the archive's, `s` the settings'. Its SQL half compares a merged row's
 * settings row with the archive row, which stands in for the legacy row
 * (see writePageReturningStored).
 */
const RETURNED_COLUMNS: StoredColumns = {
  ...storedColumns('postgres'),
  legacy_problem: `CASE WHEN a.reason = 'merged' AND (s.id IS NULL OR NOT (${settingsSameAs('postgres', 'a')})) THEN '${SETTINGS_ROW_DIFFERS}' END`,
}

/**
 * PostgreSQL: a page's writes and the read-back of what they stored, in one
 * statement. Each write is a data-modifying CTE that returns its rows as
 * stored (after any BEFORE trigger), and the statement reads them into the
 * text readBackPage would read (verify.ts storedPageSql), of which it
 * returns the SHA-256 for the worker to compare with its own text's: a
 * page as written costs 32 bytes, not a text of a few hundred bytes a row
 * to send, decode, pass on and compare (a tenth of the migration's time
 * went on that at 100,000 rows). A page whose digest differs is read back
 * as text afterwards (consolidate.ts) to name what differs. One round trip
 * a page instead of four, and no scan of the page's archive rows nor
 * lookup of each one's settings and legacy row: at 100,000 legacy rows the
 * read-back was a fifth of the server's work.
 *
 * The SQL half of the check differs from the read-back's (verify.ts
 * legacyProblem) in what stands for the legacy row: its archive row. The
 * archive is created by 0002 in this transaction, so no other session can
 * see it, let alone put a trigger on it, and its row holds exactly what the
 * same statement copied from the legacy row; a merged row's settings row,
 * in a table that may have triggers, is compared with it. What this does
 * not see is a change made to a row after its statement by another one
 * (an AFTER trigger could make one).
 *
 * Parameters: each write's in turn, the archive's time first among its own.
 * A write with no rows is left out; the archive has a row for every legacy
 * row, so a page always has one.
 */
async function writePageReturningStored(db: Kysely<any>, writes: PageWrites, archivedAt: string): Promise<StoredPage> {
  const parameters: unknown[] = []
  const parts: string[] = []
  const settingsWritten: string[] = []
  if (writes.updated) {
    parts.push(`updated AS (${updateExistingSettingsSql('postgres', parameters.length + 1)} RETURNING ${SETTINGS_RETURNED})`)
    parameters.push(...rowsParameters(writes.updated))
    settingsWritten.push('SELECT * FROM updated')
  }
  if (writes.created) {
    parts.push(`created AS (${insertCreatedSettingsSql('postgres', parameters.length + 1)} RETURNING ${SETTINGS_RETURNED})`)
    parameters.push(...rowsParameters(writes.created))
    settingsWritten.push('SELECT * FROM created')
  }
  if (!writes.archive) throw new MigrationError('A page reached its writes without archive rows.', {code: 'CONSOLIDATION_INTERNAL'})
  parts.push(`archived AS (${insertArchiveRowsSql('postgres', parameters.length + 1)} RETURNING ${ARCHIVE_RETURNED})`)
  parameters.push(archivedAt, ...rowsParameters(writes.archive))
  // No settings written: an empty relation of the same shape, so the statement keeps one form.
  const written = settingsWritten.length > 0 ? settingsWritten.join(' UNION ALL ') : `SELECT ${SETTINGS_RETURNED} FROM ${settings} WHERE false`
  const from = `FROM archived AS a LEFT JOIN (${written}) AS s ON s.id = a.settings_id`
  const [page] = await execute<StoredPageRow>(db, `WITH ${parts.join(',\n')}\n${storedPageSql(RETURNED_COLUMNS, from, 'a.id', 'digest')}`, parameters)
  return storedPage(page)
}
