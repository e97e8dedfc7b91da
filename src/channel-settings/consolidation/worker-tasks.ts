import type {EncryptionKey} from '../../crypto/encryption-key.js'
import {MigrationError} from '../../errors/engage-error.js'
import {checkRowEnvelopes} from './check-envelopes.js'
import {checkStoredPage, ExpectedStoredText, TEXT_NEEDED, type StoredPage, type VerifyProblem} from './check-stored.js'
import type {RowsEncoding} from './computed-columns.js'
import {convertRow, PageEncoder} from './convert.js'
import {decryptLegacyRow, type DecryptFailure} from './decrypt-legacy.js'
import {decideRow, emptyCounts, Plan, type BatchCounts} from './select-live-rows.js'
import {loadedRow, PAGE_ROW_FIELDS, rowsOf, type DecryptedRow, type PageRow, type PageRows} from './types.js'
import type {PageWrites} from './write.js'

/**
 * What a page's conversion hands back: the writes' parameters, what its
 * decisions add up to, the rows that do not decrypt, and what the check of
 * its computed envelopes found (none of it carries a value).
 */
export interface ConvertedPage {
  writes: PageWrites
  counts: BatchCounts
  failures: DecryptFailure[]
  problems: VerifyProblem[]
}

/**
 * The cryptography of the consolidation, page by page, as a crypto worker
 * runs it (crypto-pool.ts); plain functions, so it runs the same in any
 * thread. A page is converted row by row, each row taken from its legacy
 * value to its checked envelopes in one go, so a plaintext never outlives
 * its row (and the garbage collector copies no page of them around); only
 * the pages that come before the plan are decrypted ahead, to use the time
 * the plan takes. Each row's tuples are encoded into the bytes the writes
 * bind (convert.ts PageEncoder), and what its read-back should say into
 * the page's expected text (check-stored.ts ExpectedStoredText), which
 * stays here, outside the JavaScript heap, until the read-back comes. The
 * main thread only moves database text and bytes.
 */
export class PageCrypto {
  private planned: {plan: Plan; encoding: RowsEncoding} | undefined
  /** Pages decrypted and not yet converted. */
  private readonly decrypted = new Map<number, DecryptedRow[]>()
  private readonly written = new Map<number, ExpectedStoredText>()

  constructor(private readonly key: EncryptionKey) {}

  /**
   * Takes the plan (loadPlan's JSON): what each legacy row is; created
   * settings rows take ids from `firstCreatedId`; pages' writes are encoded
   * as `encoding` says (what the dialect's writes read).
   */
  plan(plan: string, firstCreatedId: number, encoding: RowsEncoding): void {
    this.planned = {plan: Plan.parse(plan, firstCreatedId), encoding}
  }

  /**
   * Decrypts each legacy row of a page (loadLegacyPage) and keeps the
   * results for the page's conversion. Needs no plan, so it may come before
   * the plan does.
   */
  decrypt(page: number, rows: PageRows<PageRow>): void {
    this.decrypted.set(page, [...this.decryptEach(rows)])
  }

  /**
   * Decrypts each legacy row of a page (`rows`, or the page decrypt() kept),
   * decides its fate, re-encrypts it as ev1 (convertRow) and checks its
   * envelopes decrypt back to its legacy values (checkRowEnvelopes); returns
   * what the page's writes bind.
   */
  convert(page: number, rows?: PageRows<PageRow>): ConvertedPage {
    if (!this.planned) throw new MigrationError(`Page ${page} reached conversion before the plan.`, {code: 'CONSOLIDATION_INTERNAL'})
    const decrypted = this.decrypted.get(page)
    this.decrypted.delete(page)
    if (!decrypted && rows === undefined) throw new MigrationError(`Page ${page} reached conversion without its rows.`, {code: 'CONSOLIDATION_INTERNAL'})
    const {plan, encoding} = this.planned
    const counts = emptyCounts()
    const tuples = new PageEncoder(encoding)
    const expected = new ExpectedStoredText()
    const failures: DecryptFailure[] = []
    const problems: VerifyProblem[] = []
    for (const entry of decrypted ?? this.decryptEach(rows!)) {
      if (!entry.ok) failures.push({id: entry.row.id, problem: entry.problem})
      const decision = decideRow(entry, plan, counts)
      const envelopes = convertRow(this.key, decision, tuples)
      checkRowEnvelopes(this.key, decision, envelopes, problems)
      expected.addRow(decision, envelopes)
    }
    this.written.set(page, expected)
    return {writes: tuples.finish(), counts, failures, problems}
  }

  /** The page's rows decrypted one at a time, as they are asked for. */
  private *decryptEach(rows: PageRows<PageRow>): Generator<DecryptedRow> {
    for (const row of rowsOf(rows, PAGE_ROW_FIELDS)) yield decryptLegacyRow(this.key, loadedRow(row), row.credentials_encrypted)
  }

  /**
   * Checks what the database stored for the page (write-returning.ts
   * writePageReadingBack) against what was written, and forgets the page;
   * keeps it when a digest differs, for the text read back next.
   */
  verify(page: number, stored: StoredPage): VerifyProblem[] | typeof TEXT_NEEDED {
    const written = this.written.get(page)
    if (!written) throw new MigrationError(`Page ${page} reached verification before its conversion.`, {code: 'CONSOLIDATION_INTERNAL'})
    const checked = checkStoredPage(written, stored)
    if (checked !== TEXT_NEEDED) this.written.delete(page)
    return checked
  }
}

/** The messages a crypto worker takes, each answered with the matching method's result. */
export type PageTask =
  | {task: 'plan'; page: number; plan: string; firstCreatedId: number; encoding: RowsEncoding}
  | {task: 'decrypt'; page: number; rows: PageRows<PageRow>}
  | {task: 'convert'; page: number; rows?: PageRows<PageRow>}
  | {task: 'verify'; page: number; stored: StoredPage}

export function runPageTask(crypto: PageCrypto, message: PageTask): ConvertedPage | VerifyProblem[] | typeof TEXT_NEEDED | void {
  switch (message.task) {
    case 'plan':
      return crypto.plan(message.plan, message.firstCreatedId, message.encoding)
    case 'decrypt':
      return crypto.decrypt(message.page, message.rows)
    case 'convert':
      return crypto.convert(message.page, message.rows)
    case 'verify':
      return crypto.verify(message.page, message.stored)
  }
}
