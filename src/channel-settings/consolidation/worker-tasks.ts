import type {EncryptionKey} from '../../crypto/encryption-key.js'
import {MigrationError} from '../../errors/engage-error.js'
import {convertBatch, serializeWrites} from './convert.js'
import {decryptPage, type DecryptFailure} from './decrypt-legacy.js'
import {decideRows, parsePlan, type BatchCounts, type Plan} from './select-live-rows.js'
import type {DecryptedRow, PageRow, PageRows} from './types.js'
import {checkComputedEnvelopes} from './check-envelopes.js'
import {checkStoredPage, writtenPage, type StoredRow, type VerifyProblem, type WrittenPage} from './check-stored.js'
import type {PageWrites} from './write.js'

/**
 * What a page's encryption hands back: the writes' parameters, what its
 * decisions add up to, and what the check of its computed envelopes found.
 */
export interface EncryptedPage {
  writes: PageWrites
  counts: BatchCounts
  problems: VerifyProblem[]
}

/** What a page's conversion hands back: the rows that do not decrypt, and its encryption. */
export interface ConvertedPage extends EncryptedPage {
  failures: DecryptFailure[]
}

/**
 * The cryptography of the consolidation, page by page, as a crypto worker
 * runs it (crypto-pool.ts); plain functions, so it runs the same in any
 * thread. A page's plaintexts stay here, in the worker that decrypted it,
 * until its envelopes are computed and checked against them; what its
 * verification needs of it (writtenPage: the envelopes written, no
 * plaintext) stays until then. The main thread only moves database text.
 */
export class PageCrypto {
  private readonly decrypted = new Map<number, DecryptedRow[]>()
  private planned: Plan | undefined
  private readonly converted = new Map<number, WrittenPage>()

  constructor(private readonly key: EncryptionKey) {}

  /** Decrypts a page (loadLegacyPage); returns the rows that do not decrypt, without any of their value. */
  decrypt(page: number, rows: PageRows<PageRow>): DecryptFailure[] {
    const decrypted = decryptPage(this.key, rows)
    this.decrypted.set(page, decrypted)
    const failures: DecryptFailure[] = []
    for (const entry of decrypted) if (!entry.ok) failures.push({id: entry.row.id, problem: entry.problem})
    return failures
  }

  /** Takes the plan (loadPlan's JSON): what each legacy row is. */
  plan(plan: string): void {
    this.planned = parsePlan(plan)
  }

  /**
   * Decides each row's fate, re-encrypts the page as ev1 (convertBatch),
   * checks each envelope decrypts back to its legacy value
   * (checkComputedEnvelopes), and returns what its writes bind.
   */
  encrypt(page: number): EncryptedPage {
    if (!this.planned) throw new MigrationError(`Page ${page} reached encryption before the plan.`, {code: 'CONSOLIDATION_INTERNAL'})
    const {decisions, counts} = decideRows(this.take(this.decrypted, page), this.planned)
    const batch = convertBatch(this.key, decisions)
    const problems = checkComputedEnvelopes(this.key, batch)
    this.converted.set(page, writtenPage(batch))
    return {writes: serializeWrites(batch), counts, problems}
  }

  /** A page decrypted and re-encrypted in one step (after the plan). */
  convert(page: number, rows: PageRows<PageRow>): ConvertedPage {
    const failures = this.decrypt(page, rows)
    return {failures, ...this.encrypt(page)}
  }

  /** Checks what the database stored for the page (readBackPage) against what was written; forgets the page. */
  verify(page: number, stored: PageRows<StoredRow>): VerifyProblem[] {
    return checkStoredPage(this.take(this.converted, page), stored)
  }

  private take<T>(pages: Map<number, T>, page: number): T {
    const value = pages.get(page)
    if (value === undefined) throw new MigrationError(`Page ${page} reached a step out of order.`, {code: 'CONSOLIDATION_INTERNAL'})
    pages.delete(page)
    return value
  }
}

/** The messages a crypto worker takes, each answered with the matching method's result. */
export type PageTask =
  | {task: 'plan'; page: number; plan: string}
  | {task: 'convert'; page: number; rows: PageRows<PageRow>}
  | {task: 'verify'; page: number; stored: PageRows<StoredRow>}

export function runPageTask(crypto: PageCrypto, message: PageTask): ConvertedPage | VerifyProblem[] | void {
  switch (message.task) {
    case 'plan':
      return crypto.plan(message.plan)
    case 'convert':
      return crypto.convert(message.page, message.rows)
    case 'verify':
      return crypto.verify(message.page, message.stored)
  }
}
