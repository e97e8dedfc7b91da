import {createHash} from 'node:crypto'
import {ByteBuilder} from '../../db/byte-builder.js'
import {secretHome, type RowEnvelopes, type SecretHome} from './convert.js'
import type {RowDecision} from './types.js'

function describeSettingsRow(id: number | null | undefined, created: boolean): string {
  return `${created ? 'created' : 'existing'} settings row ${id}`
}

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
  /** 1 when the archive row keeps the legacy value's IV alone, 0 when it keeps the value verbatim. */
  iv_kept: number
  /** What the SQL half of the verification found wrong with the row against its legacy row, or null (verify.ts). */
  legacy_problem: string | null
}

/** StoredRow's fields in the order readBackPage's text carries them (verify.ts storedRowText). */
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
  'iv_kept',
  'legacy_problem',
] as const satisfies readonly (keyof StoredRow)[]

export interface VerifyProblem {
  id: number
  problem: string
}

/**
 * How readBackPage encodes what is stored (verify.ts storedRowText): each
 * field of a StoredRow, in STORED_ROW_FIELDS order, as STORED_FIELD and its
 * text, or STORED_NULL for NULL; each row ended by STORED_ROW_END. None of
 * these characters is in anything the migration writes (ids, reasons,
 * base64url envelopes, the SQL half's messages), so when the text read
 * equals the text expected, and holds as many rows, every field equals the
 * one expected: a stored value with one of them in it would add a field or
 * a row to the text.
 */
export const STORED_FIELD = '|'
export const STORED_NULL = '!'
export const STORED_ROW_END = '\n'

/**
 * What is read back for a page: how many archive rows its legacy ids have,
 * and their StoredRows as one text (readBackPage), or that text's SHA-256
 * (PostgreSQL's page statement, write-returning.ts): a text that equals the
 * one expected needs no more than its digest to prove it, and a page that
 * differs is read back as text to name what differs.
 */
export type StoredPage = {rows: number; text: string} | {rows: number; digest: Uint8Array}

/** What checkStoredPage says of a page whose digest differs from the expected text's: read back its text, to name what differs. */
export const TEXT_NEEDED = 'text needed'

const field = (value: string | number | null) => (value === null ? STORED_NULL : STORED_FIELD + value)

/**
 * The text readBackPage reads for a page when the database stored exactly
 * what was written, built row by row as the crypto worker converts the page
 * and kept, outside the JavaScript heap, until the read-back comes (nothing
 * else of the page is kept: see byte-builder.ts). For each row: its planned
 * reason and settings row, the envelopes computed for it where convertRow
 * put them, its legacy value kept as the worker decided, and nothing found
 * by the SQL half. No plaintext is kept: the envelopes were checked against
 * it at conversion (check-envelopes.ts).
 */
export class ExpectedStoredText {
  private readonly bytes = new ByteBuilder()
  private count = 0
  private firstId: number | undefined
  private lastId: number | undefined

  /** Adds what a converted row should read back as. */
  addRow(decision: RowDecision, written: RowEnvelopes): void {
    const {decrypted} = decision
    const {id} = decrypted.row
    const merged = decision.reason === 'merged'
    const settingsId = merged ? decision.settingsId! : null
    const secretInSettings = secretHome(decision.reason, decrypted.row.webhook_secret) === 'settings'
    // One write per row: a write per field cost more than the rest of the check.
    this.bytes.text(
      field(id) +
        field(decision.reason) +
        field(settingsId) +
        field(merged && decision.createsSettings ? 1 : 0) +
        field(merged ? null : written.credentials) +
        field(secretInSettings ? null : written.secret) +
        field(settingsId) +
        field(merged ? written.credentials : null) +
        field(secretInSettings ? written.secret : null) +
        field(decrypted.ok && decrypted.keptAsIv ? 1 : 0) +
        field(null) +
        STORED_ROW_END,
    )
    this.count++
    this.firstId ??= id
    this.lastId = id
  }

  /** How many rows were added, and the first and last legacy id among them. */
  get rows(): {count: number; first: number | undefined; last: number | undefined} {
    return {count: this.count, first: this.firstId, last: this.lastId}
  }

  /** The text itself, read out of its bytes. */
  get text(): string {
    return this.bytes.utf8()
  }

  /** The text's SHA-256, as PostgreSQL's sha256() of its UTF-8 bytes gives it. */
  digest(): Buffer {
    return createHash('sha256').update(this.bytes.view()).digest()
  }
}

/** One field of a row's text: STORED_FIELD and the text up to the next field, or STORED_NULL. */
const STORED_VALUE = new RegExp(`\\${STORED_FIELD}[^\\${STORED_FIELD}\\${STORED_NULL}]*|\\${STORED_NULL}`, 'g')

const INTEGER_FIELDS = new Set<keyof StoredRow>(['id', 'settings_id', 'settings_created', 's_id', 'iv_kept'])

/**
 * readBackPage's text as StoredRows, in id order, or undefined when it does
 * not split into `count` rows of STORED_ROW_FIELDS (a value holds a
 * separator).
 */
function parseStoredText(text: string, count: number): StoredRow[] | undefined {
  const lines = text === '' ? [] : text.slice(0, -STORED_ROW_END.length).split(STORED_ROW_END)
  if (lines.length !== count || (count > 0 && !text.endsWith(STORED_ROW_END))) return undefined
  const rows: StoredRow[] = []
  for (const line of lines) {
    const values = line.match(STORED_VALUE)
    if (!values || values.length !== STORED_ROW_FIELDS.length || values.join('') !== line) return undefined
    const row: Record<string, string | number | null> = {}
    STORED_ROW_FIELDS.forEach((name, position) => {
      const value = values[position]!
      const text = value === STORED_NULL ? null : value.slice(1)
      row[name] = text !== null && INTEGER_FIELDS.has(name) ? Number(text) : text
    })
    rows.push(row as unknown as StoredRow)
  }
  return rows.sort((a, b) => a.id - b.id)
}

/**
 * Checks, before commit, what readBackPage read against what the page's
 * conversion wrote (runs in the crypto worker that converted it): each
 * legacy row has its archive row with the planned reason and settings row,
 * and the ev1 envelopes stored, wherever they went, are byte for byte the
 * ones computed (which check-envelopes.ts proved decrypt to the legacy
 * values); the webhook secret's NULL stays NULL. What the database copied
 * from the legacy row, the kept legacy value included, is checked in SQL
 * (verify.ts legacyProblem; on PostgreSQL write-returning.ts) and passed on
 * here.
 *
 * One comparison of the text read (or of its digest) with the text
 * expected settles a page that is as written; a digest that differs can
 * name nothing, so it asks for the text (TEXT_NEEDED). Any other text is
 * taken apart and compared row by row, which names what differs, or finds
 * nothing when only the rows' order did (readBackPage orders them, but SQL
 * does not promise the aggregate keeps that order); a text that does not
 * come apart into its rows is named as a whole.
 */
export function checkStoredPage(expected: ExpectedStoredText, stored: StoredPage): VerifyProblem[] | typeof TEXT_NEEDED {
  const {count, first, last} = expected.rows
  if (first === undefined || last === undefined) return []
  if ('digest' in stored) return stored.rows === count && expected.digest().equals(stored.digest) ? [] : TEXT_NEEDED
  const text = expected.text
  if (stored.rows === count && stored.text === text) return []
  const rows = parseStoredText(stored.text, stored.rows)
  if (!rows) return [{id: first, problem: `the archive rows of legacy ids ${first}–${last} do not read back as rows`}]
  return compareStoredRows(parseStoredText(text, count)!, rows, first, last)
}

/**
 * Where a row's webhook secret was written, read off the row expected
 * (convert.ts secretHome): a secret is always written as an envelope, so
 * the field that holds one is its table.
 */
function secretIn(expected: StoredRow): SecretHome {
  if (expected.s_webhook !== null) return 'settings'
  return expected.webhook_secret_encrypted === null ? null : 'archive'
}

/** The row-by-row comparison behind checkStoredPage, which names each difference; both lists are in id order. */
function compareStoredRows(expected: readonly StoredRow[], rows: readonly StoredRow[], first: number, last: number): VerifyProblem[] {
  const problems: VerifyProblem[] = []
  const fail = (id: number, problem: string) => problems.push({id, problem})
  // A batch is a contiguous run of legacy ids, so equal lengths pair up by index.
  const byIndex = rows.length === expected.length
  const byId = byIndex ? undefined : new Map(rows.map((row) => [row.id, row]))
  if (!byIndex) fail(first, `archive has ${rows.length} rows for the ${expected.length} legacy rows ${first}–${last}`)
  for (let index = 0; index < expected.length; index++) {
    const planned = expected[index]!
    const {id, reason} = planned
    const row = byIndex ? rows[index] : byId!.get(id)
    if (!row || row.id !== id) {
      fail(id, 'missing from the archive')
      continue
    }
    if (row.reason !== reason) fail(id, `archived as ${row.reason}, planned ${reason}`)
    if (row.legacy_problem !== null) fail(id, row.legacy_problem)
    else if (row.iv_kept !== planned.iv_kept) fail(id, 'legacy ciphertext cannot be rebuilt exactly')
    const secretTable = secretIn(planned)

    // Where the values went.
    let credentialsStored: string | null
    let secretStored: string | null
    if (reason === 'merged') {
      if (row.s_id === null) {
        fail(id, 'merged into a settings row that does not exist')
        continue
      }
      const created = row.settings_created === 1
      const plannedCreated = planned.settings_created === 1
      if (row.s_id !== planned.settings_id || created !== plannedCreated) {
        fail(id, `merged into ${describeSettingsRow(row.s_id, created)}, planned ${describeSettingsRow(planned.settings_id, plannedCreated)}`)
      }
      if (row.credentials_encrypted !== null) fail(id, 'merged row also keeps credentials in the archive')
      credentialsStored = row.s_credentials
      // A non-empty secret lives in settings; '' only in the archive (settings cannot sign with it).
      if ((secretTable === 'settings' ? row.webhook_secret_encrypted : row.s_webhook) !== null) fail(id, 'webhook secret stored in the wrong table')
      secretStored = secretTable === 'settings' ? row.s_webhook : row.webhook_secret_encrypted
    } else {
      if (row.settings_id !== null || row.settings_created !== 0) fail(id, `${reason} row points at a settings row`)
      credentialsStored = row.credentials_encrypted
      secretStored = row.webhook_secret_encrypted
    }

    // The stored bytes are the computed envelopes; an undecryptable row (decideRow gives every one that reason) has no new credentials.
    const credentialsWritten = reason === 'merged' ? planned.s_credentials : planned.credentials_encrypted
    if (reason === 'undecryptable') {
      if (credentialsStored !== null) fail(id, 'undecryptable row has new credentials')
    } else if (credentialsStored === null || credentialsStored !== credentialsWritten) fail(id, 'stored credentials differ from the ones written')
    if (secretStored !== (planned.s_webhook ?? planned.webhook_secret_encrypted)) fail(id, 'stored webhook secret differs from the one written')
  }
  return problems
}
