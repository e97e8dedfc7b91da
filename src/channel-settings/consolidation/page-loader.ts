import type {Kysely} from 'kysely'
import type {Dialect} from '../../db/database.js'
import {MigrationError} from '../../errors/engage-error.js'
import {pageRows} from './batches.js'
import type {CryptoPool} from './crypto-pool.js'
import {loadLegacyPage, type LegacyPage} from './load.js'
import type {ConvertedPage} from './worker-tasks.js'

/* eslint-disable @typescript-eslint/no-explicit-any */

/** A page of legacy rows in the pipeline: its place in id order, and what its worker makes of it. */
export interface PipelinePage {
  rows: LegacyPage
  /** Its conversion; undefined until the plan is out (PageLoader.startConverting). */
  converted?: Promise<ConvertedPage>
  /** A page loaded before the plan: its decryption, which its conversion waits for. */
  decrypted?: Promise<void>
}

/**
 * Loads the legacy rows page by page, in id order, for the crypto workers.
 * A page loaded before the plan is out is sent to its worker to be
 * decrypted at once (decrypting needs no plan), so the workers use the time
 * the database takes to compute the plan instead of waiting for it, and to
 * be converted once the plan is out (startConverting). A page loaded after
 * that is sent to be converted, which decrypts it row by row. Worker
 * messages are taken in order, so a page's conversion always follows the
 * plan and its decryption.
 */
export class PageLoader {
  private readonly pages: (PipelinePage | undefined)[] = []
  private after: number | undefined
  private loadedAll = false
  private converting = false
  private rowsLoaded = 0

  constructor(
    private readonly db: Kysely<any>,
    private readonly dialect: Dialect,
    private readonly pool: CryptoPool,
  ) {}

  /** Loads pages until at least `rows` rows are loaded or there are no more. */
  async loadRows(rows: number): Promise<void> {
    while (!this.loadedAll && this.rowsLoaded < rows) await this.loadNext()
  }

  /** From now on every page is also converted, those loaded already first. */
  startConverting(): void {
    this.converting = true
    this.pages.forEach((page, index) => {
      if (page?.decrypted && !page.converted) page.converted = this.convertDecrypted(index, page.decrypted)
    })
  }

  /** Page `index` and its conversion, once the `ahead` pages after it are loaded too; undefined after the last page. */
  async page(index: number, ahead: number): Promise<{rows: LegacyPage; converted: Promise<ConvertedPage>} | undefined> {
    while (!this.loadedAll && this.pages.length <= index + ahead) await this.loadNext()
    const page = this.pages[index]
    if (!page) return undefined
    if (!page.converted) throw new MigrationError(`Page ${index} was asked for before the plan.`, {code: 'CONSOLIDATION_INTERNAL'})
    return {rows: page.rows, converted: page.converted}
  }

  /** Forgets a written page: its rows and writes are megabytes that would otherwise live until the migration ends. */
  release(index: number): void {
    this.pages[index] = undefined
  }

  private async loadNext(): Promise<void> {
    const index = this.pages.length
    const next = await loadLegacyPage(this.db, this.dialect, this.after, pageRows(index))
    if (!next) {
      this.loadedAll = true
      return
    }
    const page: PipelinePage = {rows: next.page}
    if (this.converting) page.converted = this.pool.run<ConvertedPage>({task: 'convert', page: index, rows: next.rows})
    else page.decrypted = this.pool.run<void>({task: 'decrypt', page: index, rows: next.rows})
    this.pages.push(page)
    this.after = next.page.last
    this.rowsLoaded += next.page.rows
  }

  /** The conversion of a page decrypted ahead; a failed decryption is the failure reported. */
  private convertDecrypted(index: number, decrypted: Promise<void>): Promise<ConvertedPage> {
    const converted = this.pool.run<ConvertedPage>({task: 'convert', page: index})
    const result = decrypted.then(() => converted)
    // Marked handled, as CryptoPool.run's are: one left unawaited after a failure is no crash.
    result.catch(() => {})
    return result
  }
}
