import {createHash, randomBytes} from 'node:crypto'
import BetterSqlite3 from 'better-sqlite3'
import {afterEach, describe, expect, it} from 'vitest'
import {checkRowEnvelopes} from '../../../src/channel-settings/consolidation/check-envelopes.js'
import type {ComputedRows} from '../../../src/channel-settings/consolidation/computed-columns.js'
import {convertRow, LEGACY_KEPT, type PageTuples, type RowEnvelopes} from '../../../src/channel-settings/consolidation/convert.js'
import {CryptoPool} from '../../../src/channel-settings/consolidation/crypto-pool.js'
import {decryptLegacyRow} from '../../../src/channel-settings/consolidation/decrypt-legacy.js'
import {decideRow, emptyCounts, Plan} from '../../../src/channel-settings/consolidation/select-live-rows.js'
import type {RowDecision} from '../../../src/channel-settings/consolidation/types.js'
import {PageCrypto, type ConvertedPage} from '../../../src/channel-settings/consolidation/worker-tasks.js'
import {keyIdOf, type EncryptionKey} from '../../../src/crypto/encryption-key.js'
import {decryptField} from '../../../src/crypto/envelope.js'
import {encryptLegacy} from '../../../src/crypto/legacy-cbc.js'
import {STORED_ROW_FIELDS, TEXT_NEEDED, type StoredPage, type StoredRow, type VerifyProblem} from '../../../src/channel-settings/consolidation/check-stored.js'
import {storedRowText} from '../../../src/channel-settings/consolidation/verify.js'
import {packRows} from '../../../src/channel-settings/consolidation/packed-rows.js'
import {PAGE_ROW_FIELDS, type PageRow} from '../../../src/channel-settings/consolidation/types.js'

const raw = randomBytes(32)
const key: EncryptionKey = {id: keyIdOf(raw), key: raw}
const twilio = JSON.stringify({accountSid: 'AC0123', authToken: 'token-of-row-1'})

/** A page's rows as loadLegacyPage selects them (PageRow). */
function pageRows(): PageRow[] {
  const row = (id: number, tenant: string, stored: string, secret: string | null): PageRow => ({
    id,
    tenant_id: tenant,
    channel: 'sms',
    provider: 'twilio',
    credentials_encrypted: stored,
    webhook_secret: secret,
  })
  return [
    row(1, 't1', encryptLegacy(raw, twilio, randomBytes(16)), 'whsec_1'),
    row(2, 't1', encryptLegacy(raw, twilio, randomBytes(16)), null),
    row(3, 't2', 'not-hex', null),
  ]
}

/** The plan for those rows, as loadPlan gives it: id, live, tenant exists, settings id, flat in id order; rows 2 and 3 are live, t1 has settings row 7. */
const PLAN = JSON.stringify([1, 0, 1, 7, 2, 1, 1, 7, 3, 1, 1, null])

/**
 * Rows as SQLite hands them over: one JSON array of tuples in the fields'
 * order, in no particular order (reversed here, so the worker must order them).
 */
const tuplesJson = <T extends object>(rows: T[], fields: readonly (keyof T)[]) => JSON.stringify(rows.map((row) => fields.map((field) => row[field])).reverse())

/** A statement's rows as the SQLite writes bind them (one JSONB value), read back by SQLite itself. */
function sqliteRows(rows: ComputedRows | null): unknown[][] {
  const sqlite = new BetterSqlite3(':memory:')
  try {
    return JSON.parse((sqlite.prepare('SELECT json(?) AS rows').get(rows) as {rows: string}).rows) as unknown[][]
  } finally {
    sqlite.close()
  }
}

/** The page as SQLite hands it over. */
const pageJson = () => tuplesJson(pageRows(), PAGE_ROW_FIELDS)

/**
 * Stored rows as readBackPage reads them: encoded by SQLite itself, with the
 * read-back's own SQL (storedRowText), from a table of those rows, in the
 * order given.
 */
function storedPage(rows: StoredRow[]): StoredPage & {text: string} {
  const sqlite = new BetterSqlite3(':memory:')
  try {
    // Typed as the archive and settings columns are, so SQLite stores the bound numbers as integers.
    const integers = new Set(['id', 'settings_id', 'settings_created', 's_id', 'iv_kept'])
    sqlite.exec(`CREATE TABLE t (${STORED_ROW_FIELDS.map((field) => `${field} ${integers.has(field) ? 'INTEGER' : 'TEXT'}`).join(', ')})`)
    const insert = sqlite.prepare(`INSERT INTO t VALUES (${STORED_ROW_FIELDS.map(() => '?').join(', ')})`)
    for (const row of rows) insert.run(...STORED_ROW_FIELDS.map((field) => row[field]))
    const page = sqlite.prepare(`SELECT COUNT(*) AS rows, string_agg(${storedRowText()}, '') AS text FROM t`).get() as {rows: number; text: string | null}
    return {rows: page.rows, text: page.text ?? ''}
  } finally {
    sqlite.close()
  }
}

/** What the database would store for the writes, as readBackPage reads it. */
const storedText = (writes: ConvertedPage['writes']) => storedPage(storedRows(writes))

/** What the database would store for the writes, as StoredRow objects. */
function storedRows(writes: ConvertedPage['writes']): StoredRow[] {
  const updated = sqliteRows(writes.updated) as [number, number, string, string, string | null][]
  const archive = sqliteRows(writes.archive) as [number, string, number | null, number, string | null, string | null, number][]
  return archive.map(([id, reason, settingsId, created, credentials, secret, kept]): StoredRow => {
      const merged = updated.find((row) => row[0] === id)
      return {
        id,
        reason,
        settings_id: settingsId,
        settings_created: created,
        credentials_encrypted: credentials,
        webhook_secret_encrypted: secret,
        s_id: merged ? settingsId : null,
        s_credentials: merged?.[3] ?? null,
        s_webhook: merged?.[4] ?? null,
        iv_kept: kept === LEGACY_KEPT.iv ? 1 : 0,
        legacy_problem: null,
      }
    })
}

/** Each row of the page decided and re-encrypted, as the worker does before checking its envelopes. */
function convertedRows(): {decision: RowDecision; written: RowEnvelopes}[] {
  const plan = Plan.parse(PLAN, 100)
  const counts = emptyCounts()
  const tuples: PageTuples = {archive: [], updated: [], created: []}
  return pageRows().map(({credentials_encrypted: stored, ...row}) => {
    const decision = decideRow(decryptLegacyRow(key, row, stored), plan, counts)
    return {decision, written: convertRow(key, decision, tuples)}
  })
}

/** What checkRowEnvelopes finds over those rows. */
function envelopeProblems(rows: {decision: RowDecision; written: RowEnvelopes}[]) {
  const problems: {id: number; problem: string}[] = []
  for (const {decision, written} of rows) checkRowEnvelopes(key, decision, written, problems)
  return problems
}

/** The envelope with the first character of its tag changed (the last one may carry only padding bits). */
function flipped(envelope: string): string {
  const at = envelope.lastIndexOf('.') + 1
  return `${envelope.slice(0, at)}${envelope[at] === 'A' ? 'B' : 'A'}${envelope.slice(at + 1)}`
}

/** A crypto worker's PageCrypto that has the plan. */
function plannedCrypto(): PageCrypto {
  const crypto = new PageCrypto(key)
  crypto.plan(PLAN, 100, 'sqlite-jsonb')
  return crypto
}

/** Two conversions of the same rows decided and found the same, and their envelopes checked out. */
function expectSameOutcome(converted: ConvertedPage, other: ConvertedPage): void {
  expect(converted.failures).toEqual(other.failures)
  expect(converted.counts).toEqual(other.counts)
  expect(converted.problems).toEqual([])
}

describe('consolidation page cryptography (the crypto worker\'s steps)', () => {
  it('decrypts, re-encrypts by decision and checks the stored envelopes; a changed byte is named', () => {
    const crypto = new PageCrypto(key)
    crypto.plan(PLAN, 100, 'sqlite-jsonb')
    const {writes, counts, failures, problems} = crypto.convert(0, pageJson())

    expect(failures).toEqual([{id: 3, problem: 'is not "<iv>:<ciphertext>" hex'}])
    expect(problems).toEqual([])
    expect(counts).toEqual({byReason: {merged: 1, superseded: 1, orphaned: 0, undecryptable: 1}, intoExisting: 1, created: 0, undecryptableRowIds: [3]})
    const [legacyId, settingsId, config, credentials, secret] = (sqliteRows(writes.updated) as [number, number, string, string, string][])[0]!
    expect([legacyId, settingsId, JSON.parse(config)]).toEqual([2, 7, {accountSid: 'AC0123'}])
    expect(secret).toBeNull()
    expect(decryptField(key, credentials, {tenantId: 't1', channel: 'sms', field: 'credentials'}).toString()).toBe(twilio)
    expect(writes.created).toBeNull()

    expect(crypto.verify(0, storedText(writes))).toEqual([])
  })

  it('settles a page by the digest of its text; a digest that differs asks for the text, and the page waits for it', () => {
    const crypto = plannedCrypto()
    const {writes} = crypto.convert(0, pageRows())
    const stored = storedText(writes)
    const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest()
    const again = plannedCrypto()
    const other = again.convert(0, pageRows())

    expect(crypto.verify(0, {rows: stored.rows, digest: digest(stored.text)})).toEqual([])
    expect(again.verify(0, {rows: stored.rows, digest: digest(storedText(other.writes).text)})).toEqual([])
    const third = plannedCrypto()
    third.convert(0, pageRows())
    // Another conversion's envelopes (their IVs are random): the digest differs, and the text names the rows.
    expect(third.verify(0, {rows: stored.rows, digest: digest(stored.text)})).toBe(TEXT_NEEDED)
    expect(third.verify(0, stored)).toEqual([
      {id: 1, problem: 'stored credentials differ from the ones written'},
      {id: 1, problem: 'stored webhook secret differs from the one written'},
      {id: 2, problem: 'stored credentials differ from the ones written'},
    ])
    expect(() => third.verify(0, stored)).toThrow(/before its conversion/)
  })

  it('names the row whose stored envelope differs by one byte from the one written', () => {
    const crypto = new PageCrypto(key)
    crypto.plan(PLAN, 100, 'sqlite-jsonb')
    const {writes} = crypto.convert(0, pageRows())
    const credentials = (sqliteRows(writes.updated) as string[][])[0]![3]!
    const stored = storedText(writes)
    const tampered = {...stored, text: stored.text.replace(credentials, `${credentials.slice(0, -1)}${credentials.endsWith('A') ? 'B' : 'A'}`)}

    expect(crypto.verify(0, tampered)).toEqual([{id: 2, problem: 'stored credentials differ from the ones written'}])
  })

  it('catches a stored value that holds the read-back\'s separators, and names its page when no row can be told apart', () => {
    const crypto = new PageCrypto(key)
    crypto.plan(PLAN, 100, 'sqlite-jsonb')
    const rows = storedRows(crypto.convert(0, pageRows()).writes)
    // Row 1's credentials end in the next field's text: the text gains a field, and no longer splits into rows.
    const smuggled = rows.map((row) => (row.id === 1 ? {...row, credentials_encrypted: `${row.credentials_encrypted}|x`} : row))

    expect(crypto.verify(0, storedPage(smuggled))).toEqual([{id: 1, problem: 'the archive rows of legacy ids 1–3 do not read back as rows'}])
  })

  it('passes rows read back in another order, and still names a changed one among them', () => {
    const crypto = new PageCrypto(key)
    crypto.plan(PLAN, 100, 'sqlite-jsonb')
    const rows = storedRows(crypto.convert(0, pageRows()).writes).reverse()
    expect(crypto.verify(0, storedPage(rows))).toEqual([])

    crypto.convert(1, pageRows())
    const again = storedRows(crypto.convert(2, pageRows()).writes).reverse()
    const changed = again.map((row) => (row.id === 1 ? {...row, reason: 'orphaned'} : row))
    expect(crypto.verify(2, storedPage(changed))).toEqual([{id: 1, problem: 'archived as orphaned, planned superseded'}])
  })

  it('names a row missing from the archive, and a webhook secret stored as NULL', () => {
    const crypto = new PageCrypto(key)
    crypto.plan(PLAN, 100, 'sqlite-jsonb')
    const rows = storedRows(crypto.convert(0, pageRows()).writes)
    const changed = rows.filter((row) => row.id !== 3).map((row) => (row.id === 1 ? {...row, webhook_secret_encrypted: null} : row))

    expect(crypto.verify(0, storedPage(changed))).toEqual([
      {id: 1, problem: 'archive has 2 rows for the 3 legacy rows 1–3'},
      {id: 1, problem: 'stored webhook secret differs from the one written'},
      {id: 3, problem: 'missing from the archive'},
    ])
  })

  it('passes on what the SQL half of the verification found, for the row it found it on', () => {
    const crypto = new PageCrypto(key)
    crypto.plan(PLAN, 100, 'sqlite-jsonb')
    const stored = storedRows(crypto.convert(0, pageRows()).writes).map((row) =>
      row.id === 1 ? {...row, legacy_problem: 'archive row differs from the legacy row'} : row,
    )

    expect(crypto.verify(0, storedPage(stored))).toEqual([{id: 1, problem: 'archive row differs from the legacy row'}])
  })

  it('names the row whose archive keeps its legacy value otherwise than the worker decided (IV alone or verbatim)', () => {
    const crypto = new PageCrypto(key)
    crypto.plan(PLAN, 100, 'sqlite-jsonb')
    const stored = storedRows(crypto.convert(0, pageRows()).writes)
    // Row 2 decrypted and is lower-case hex, so its IV alone is archived; row 3 did not decrypt, so it is kept verbatim.
    expect(stored.map((row) => [row.id, row.iv_kept])).toEqual([[1, 1], [2, 1], [3, 0]])
    const swapped = stored.map((row) => (row.id === 1 ? row : {...row, iv_kept: 1 - row.iv_kept}))

    expect(crypto.verify(0, storedPage(swapped))).toEqual([
      {id: 2, problem: 'legacy ciphertext cannot be rebuilt exactly'},
      {id: 3, problem: 'legacy ciphertext cannot be rebuilt exactly'},
    ])
  })

  it('names the row whose computed credentials do not decrypt to its legacy plaintext', () => {
    const rows = convertedRows()
    const second = rows.find(({decision}) => decision.decrypted.row.id === 2)!
    second.written.credentials = flipped(second.written.credentials!)

    expect(envelopeProblems(rows)).toEqual([{id: 2, problem: 'new credentials do not decrypt to the legacy plaintext'}])
  })

  it('names the row whose webhook secret does not round-trip, and one that gained a secret', () => {
    const rows = convertedRows()
    const [first, second] = [1, 2].map((id) => rows.find(({decision}) => decision.decrypted.row.id === id)!)
    first!.written.secret = flipped(first!.written.secret!)
    // Row 2 had no secret: an envelope where there was none is as wrong as a lost one.
    second!.written.secret = first!.written.secret

    expect(envelopeProblems(rows)).toEqual([
      {id: 1, problem: 'webhook secret does not round-trip'},
      {id: 2, problem: 'webhook secret does not round-trip'},
    ])
  })

  it('decrypts a page before the plan arrives and converts it after, as it converts a page sent with its rows', () => {
    const ahead = new PageCrypto(key)
    ahead.decrypt(0, pageJson())
    ahead.plan(PLAN, 100, 'sqlite-jsonb')
    const early = ahead.convert(0)
    const late = plannedCrypto().convert(0, pageRows())

    expectSameOutcome(early, late)
    expect(ahead.verify(0, storedText(early.writes))).toEqual([])
    // The kept page is used once: converting it again has no rows.
    expect(() => ahead.convert(0)).toThrow(/without its rows/)
  })

  it('converts a page packed as PostgreSQL pages are (packed-rows.ts) as it converts the same rows', () => {
    const packed = plannedCrypto()
    const fromPacked = packed.convert(0, packRows(pageRows(), PAGE_ROW_FIELDS))
    const fromObjects = plannedCrypto().convert(0, pageRows())

    expectSameOutcome(fromPacked, fromObjects)
    expect(packed.verify(0, storedText(fromPacked.writes))).toEqual([])
  })

  it('refuses a step out of order rather than guessing', () => {
    const crypto = new PageCrypto(key)
    expect(() => crypto.convert(0, pageRows())).toThrow(/before the plan/)
    crypto.plan(PLAN, 100, 'sqlite-jsonb')
    expect(() => crypto.verify(0, {rows: 0, text: ''})).toThrow(/before its conversion/)
  })

  it('refuses a row the plan does not know rather than guessing its fate', () => {
    const crypto = new PageCrypto(key)
    crypto.plan(JSON.stringify([1, 0, 1, 7]), 100, 'sqlite-jsonb')
    expect(() => crypto.convert(0, pageRows())).toThrow(/Legacy row 2 is not in the plan/)
  })
})

describe('consolidation crypto pool (worker threads)', () => {
  let pool: CryptoPool | undefined
  afterEach(async () => {
    await pool?.close()
    pool = undefined
  })

  it('decrypts a page sent before the plan, then converts and verifies it in the same worker', async () => {
    pool = new CryptoPool(key, 2)
    const decrypted = pool.run<void>({task: 'decrypt', page: 1, rows: pageJson()})
    await pool.broadcast({task: 'plan', page: 0, plan: PLAN, firstCreatedId: 100, encoding: 'sqlite-jsonb'})
    await decrypted
    const encrypted = await pool.run<ConvertedPage>({task: 'convert', page: 1})

    expect(encrypted.failures.map((failure) => failure.id)).toEqual([3])
    expect(await pool.run<VerifyProblem[]>({task: 'verify', page: 1, stored: storedText(encrypted.writes)})).toEqual([])
  })

  it('runs a page through convert (decrypt and encrypt) and verify in its worker', async () => {
    pool = new CryptoPool(key, 2)
    await pool.broadcast({task: 'plan', page: 0, plan: PLAN, firstCreatedId: 100, encoding: 'sqlite-jsonb'})
    const encrypted = await pool.run<ConvertedPage>({task: 'convert', page: 1, rows: pageJson()})
    const problems = await pool.run<VerifyProblem[]>({task: 'verify', page: 1, stored: storedText(encrypted.writes)})

    expect(encrypted.failures.map((failure) => failure.id)).toEqual([3])
    expect(encrypted.counts.byReason).toEqual({merged: 1, superseded: 1, orphaned: 0, undecryptable: 1})
    expect(problems).toEqual([])
  })

  it('reports a worker\'s failure with its code and without quoting the input', async () => {
    pool = new CryptoPool(key, 1)
    const secret = 'whsec_do_not_print_me'
    await pool.broadcast({task: 'plan', page: 0, plan: PLAN, firstCreatedId: 100, encoding: 'sqlite-jsonb'})

    const failure = await pool.run({task: 'convert', page: 0, rows: `[{"id": 1, "webhook_secret": "${secret}"`}).catch((error: unknown) => error)

    expect(failure).toMatchObject({code: 'CONSOLIDATION_WORKER_FAILED'})
    expect(String((failure as Error).message)).not.toContain(secret)
    // The worker lives on: a later page still runs.
    await expect(pool.run<ConvertedPage>({task: 'convert', page: 0, rows: pageRows()})).resolves.toMatchObject({failures: [{id: 3}]})
  })
})
