import type {EncryptionKey} from '../../crypto/encryption-key.js'
import {MigrationError} from '../../errors/engage-error.js'
import {convertBatch, serializeWrites, type ConvertedBatch} from './convert.js'
import {decryptPage, type DecryptFailure} from './decrypt-legacy.js'
import {decideRows, type BatchCounts} from './select-live-rows.js'
import type {RowDecision} from './types.js'
import {checkStoredPage, type VerifyProblem} from './verify.js'
import type {PageWrites} from './write.js'

/** What the decrypt pass tells the main thread about a page: no plaintext, only failures and counts. */
export interface DecryptedPage {
  failures: DecryptFailure[]
  counts: BatchCounts
}

/**
 * The cryptography of the consolidation, page by page, as a crypto worker
 * runs it (crypto-pool.ts); plain functions, so it runs the same in any
 * thread. A page's plaintexts and computed envelopes stay here, in the
 * worker that decrypted it, from the decrypt pass until its verification:
 * the main thread only moves database text.
 */
export class PageCrypto {
  private readonly decided = new Map<number, RowDecision[]>()
  private readonly converted = new Map<number, ConvertedBatch>()

  constructor(private readonly key: EncryptionKey) {}

  /** Decrypts a page (loadLegacyPage's JSON) and decides each row's fate; nothing is encrypted yet. */
  decrypt(page: number, json: string, live: readonly number[]): DecryptedPage {
    const decrypted = decryptPage(this.key, json, live)
    const {decisions, counts} = decideRows(decrypted)
    this.decided.set(page, decisions)
    const failures: DecryptFailure[] = []
    for (const entry of decrypted) if (!entry.ok) failures.push({id: entry.row.id, problem: entry.problem})
    return {failures, counts}
  }

  /** Re-encrypts a decrypted page as ev1 (convertBatch) and returns what its writes bind. */
  encrypt(page: number): PageWrites {
    const batch = convertBatch(this.key, this.take(this.decided, page))
    this.converted.set(page, batch)
    return serializeWrites(batch)
  }

  /** Checks what the database stored for the page (readBackPage's JSON) against what was computed; forgets the page. */
  verify(page: number, storedJson: string): VerifyProblem[] {
    return checkStoredPage(this.key, this.take(this.converted, page), storedJson)
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
  | {task: 'decrypt'; page: number; json: string; live: number[]}
  | {task: 'encrypt'; page: number}
  | {task: 'verify'; page: number; stored: string}

export function runPageTask(crypto: PageCrypto, message: PageTask): DecryptedPage | PageWrites | VerifyProblem[] {
  switch (message.task) {
    case 'decrypt':
      return crypto.decrypt(message.page, message.json, message.live)
    case 'encrypt':
      return crypto.encrypt(message.page)
    case 'verify':
      return crypto.verify(message.page, message.stored)
  }
}
