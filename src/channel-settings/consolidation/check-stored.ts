import {secretHome, type RowEnvelopes, type SecretHome} from './convert.js'
import type {RowDecision} from './types.js'

/**
 * What the check of the read-back needs of a converted page, kept by the
 * worker from the page's conversion to its verification: per legacy row, in
 * id order, its planned fate and the envelopes written for it. No plaintext
 * is kept: the computed envelopes were checked against it at conversion
 * (check-envelopes.ts).
 */
export interface WrittenPage {
  ids: number[]
  reasons: string[]
  /** For a merged row, the settings row planned (existing or created), else null. */
  settingsIds: (number | null)[]
  /** For a merged row, whether 0002 creates that settings row. */
  createsSettings: boolean[]
  /** Whether the row decrypted. */
  decrypted: boolean[]
  /** Where each webhook secret went (convert.ts secretHome). */
  secretIn: SecretHome[]
  /** Whether only the legacy value's IV is archived (it decrypted and rebuilds from its IV, legacy-bytes.ts). */
  ivKept: boolean[]
  credentials: (string | null)[]
  secrets: (string | null)[]
}

/** An empty WrittenPage, to add a page's rows to in id order. */
export function emptyWrittenPage(): WrittenPage {
  return {ids: [], reasons: [], settingsIds: [], createsSettings: [], decrypted: [], secretIn: [], ivKept: [], credentials: [], secrets: []}
}

/** Adds what a converted row leaves for its page's verification. */
export function addWrittenRow(page: WrittenPage, decision: RowDecision, written: RowEnvelopes): void {
  const {row} = decision.decrypted
  page.ids.push(row.id)
  page.reasons.push(decision.reason)
  page.settingsIds.push(decision.settingsId ?? null)
  page.createsSettings.push(decision.createsSettings)
  page.decrypted.push(decision.decrypted.ok)
  page.secretIn.push(secretHome(decision.reason, row.webhook_secret))
  page.ivKept.push(decision.decrypted.ok && decision.decrypted.keptAsIv)
  page.credentials.push(written.credentials)
  page.secrets.push(written.secret)
}

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

/** What readBackPage reads for a page: how many archive rows its legacy ids have, and their StoredRows as one text. */
export interface StoredPage {
  rows: number
  text: string
}

const field = (value: string | number | null) => (value === null ? STORED_NULL : STORED_FIELD + value)

/**
 * The text readBackPage reads for a page when the database stored exactly
 * what was written: for each row, its planned reason and settings row, the
 * envelopes computed for it where convertRow put them, its legacy value
 * kept as the worker decided, and nothing found by the SQL half.
 */
export function expectedStoredText(page: WrittenPage): string {
  let text = ''
  for (let index = 0; index < page.ids.length; index++) {
    const merged = page.reasons[index] === 'merged'
    const settingsId = merged ? page.settingsIds[index]! : null
    const secret = page.secrets[index]!
    const secretInSettings = page.secretIn[index] === 'settings'
    text +=
      field(page.ids[index]!) +
      field(page.reasons[index]!) +
      field(settingsId) +
      field(merged && page.createsSettings[index] ? 1 : 0) +
      field(merged ? null : page.credentials[index]!) +
      field(secretInSettings ? null : secret) +
      field(settingsId) +
      field(merged ? page.credentials[index]! : null) +
      field(secretInSettings ? secret : null) +
      field(page.ivKept[index] ? 1 : 0) +
      field(null) +
      STORED_ROW_END
  }
  return text
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
 * One comparison of the text read with the text expected settles a page
 * that is as written. Any other page is taken apart and compared row by
 * row, which names what differs, or finds nothing when only the rows' order
 * did (readBackPage orders them, but SQL does not promise the aggregate
 * keeps that order); a text that does not come apart into its rows is named
 * as a whole.
 */
export function checkStoredPage(batch: WrittenPage, stored: StoredPage): VerifyProblem[] {
  const first = batch.ids[0]
  const last = batch.ids.at(-1)
  if (first === undefined || last === undefined) return []
  if (stored.rows === batch.ids.length && stored.text === expectedStoredText(batch)) return []
  const rows = parseStoredText(stored.text, stored.rows)
  if (!rows) return [{id: first, problem: `the archive rows of legacy ids ${first}–${last} do not read back as rows`}]
  return compareStoredRows(batch, rows, first, last)
}

/** The row-by-row comparison behind checkStoredPage, which names each difference. */
function compareStoredRows(batch: WrittenPage, rows: readonly StoredRow[], first: number, last: number): VerifyProblem[] {
  const {ids} = batch
  const problems: VerifyProblem[] = []
  const fail = (id: number, problem: string) => problems.push({id, problem})
  // Both lists are in id order; a batch is a contiguous run of legacy ids, so equal lengths pair up by index.
  const byIndex = rows.length === ids.length
  const byId = byIndex ? undefined : new Map(rows.map((row) => [Number(row.id), row]))
  if (!byIndex) fail(first, `archive has ${rows.length} rows for the ${ids.length} legacy rows ${first}–${last}`)
  for (let index = 0; index < ids.length; index++) {
    const id = ids[index]!
    const reason = batch.reasons[index]!
    const row = byIndex ? rows[index] : byId!.get(id)
    if (!row || Number(row.id) !== id) {
      fail(id, 'missing from the archive')
      continue
    }
    if (row.reason !== reason) fail(id, `archived as ${row.reason}, planned ${reason}`)
    if (row.legacy_problem !== null) fail(id, row.legacy_problem)
    else if ((Number(row.iv_kept) === 1) !== batch.ivKept[index]) fail(id, 'legacy ciphertext cannot be rebuilt exactly')
    const secretIn = batch.secretIn[index]

    // Where the values went.
    let credentialsStored: string | null
    let secretStored: string | null
    if (reason === 'merged') {
      const settingsId = row.s_id === null ? null : Number(row.s_id)
      if (settingsId === null) {
        fail(id, 'merged into a settings row that does not exist')
        continue
      }
      const planned = batch.settingsIds[index]
      const created = Number(row.settings_created) === 1
      if (settingsId !== planned || created !== batch.createsSettings[index]) {
        fail(id, `merged into ${describeSettingsRow(settingsId, created)}, planned ${describeSettingsRow(planned, batch.createsSettings[index]!)}`)
      }
      if (row.credentials_encrypted !== null) fail(id, 'merged row also keeps credentials in the archive')
      credentialsStored = row.s_credentials
      // A non-empty secret lives in settings; '' only in the archive (settings cannot sign with it).
      if ((secretIn === 'settings' ? row.webhook_secret_encrypted : row.s_webhook) !== null) fail(id, 'webhook secret stored in the wrong table')
      secretStored = secretIn === 'settings' ? row.s_webhook : row.webhook_secret_encrypted
    } else {
      if (row.settings_id !== null || Number(row.settings_created) !== 0) fail(id, `${reason} row points at a settings row`)
      credentialsStored = row.credentials_encrypted
      secretStored = row.webhook_secret_encrypted
    }

    // The stored bytes are the computed envelopes; an undecryptable row has no new credentials.
    if (!batch.decrypted[index]) {
      if (credentialsStored !== null) fail(id, 'undecryptable row has new credentials')
    } else if (credentialsStored === null || credentialsStored !== batch.credentials[index]) fail(id, 'stored credentials differ from the ones written')
    if (secretStored !== batch.secrets[index]) fail(id, 'stored webhook secret differs from the one written')
    else if (secretStored === null && secretIn !== null) fail(id, 'webhook secret does not round-trip')
  }
  return problems
}
