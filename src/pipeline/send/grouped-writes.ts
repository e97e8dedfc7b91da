import type {Kysely} from 'kysely'
import {inWriteTransaction, type Database} from '../../db/database.js'

/* eslint-disable @typescript-eslint/no-explicit-any */

interface Waiting<I, R> {
  item: I
  resolve: (result: R) => void
  reject: (error: unknown) => void
}

/**
 * Writes that arrive together share one write transaction ("group commit";
 * src/db/group-commit.ts is the same idea for units written as QuerySteps,
 * which the webhook uses; the send side's units are async Kysely functions,
 * since storeProviderMessageId has no steps form yet):
 * `submit` resolves once its item's writes are committed, never before, so a
 * caller may act on them (acknowledge a queue record) exactly as after its
 * own transaction. Items submitted while a group is being written form the
 * next group; a group is started on the next turn of the event loop, so
 * provider answers read in the same turn are written together. If an
 * item's writes fail, the group is rolled back and each item is written
 * again in a transaction of its own, so one bad item fails alone and the
 * others are not held back. If the transaction itself cannot begin or
 * commit (SQLite's write lock busy past its timeout, a lost connection),
 * every item of the group rejects at once: nothing was written, and trying
 * each alone would wait out the busy timeout once per item.
 * Items are written in the order of `keyOf` (the message id), the order the
 * claims lock rows in, so on PostgreSQL two transactions touching the same
 * rows take their locks in the same order and cannot deadlock.
 *
 * SQLite has one writer, so one group at a time; PostgreSQL commits of
 * separate connections overlap (a commit waits on its WAL flush), so two
 * groups may be written at once there.
 */
export class GroupedWrites<I, R> {
  private waiting: Array<Waiting<I, R>> = []
  private running = 0
  private scheduled = false
  private readonly maxRunning: number

  constructor(
    private readonly database: Database,
    private readonly write: (trx: Kysely<any>, item: I) => Promise<R>,
    private readonly keyOf: (item: I) => string,
  ) {
    this.maxRunning = database.dialect === 'postgres' ? 2 : 1
  }

  submit(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.waiting.push({item, resolve, reject})
      this.schedule()
    })
  }

  private schedule(): void {
    if (this.running >= this.maxRunning || this.scheduled || this.waiting.length === 0) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      void this.flush()
    })
  }

  private async flush(): Promise<void> {
    this.running++
    const group = this.waiting
    this.waiting = []
    try {
      if (group.length === 1) await this.writeAlone(group[0]!)
      else await this.writeTogether(group)
    } finally {
      this.running--
      this.schedule()
    }
  }

  private async writeTogether(group: Array<Waiting<I, R>>): Promise<void> {
    let results: R[]
    let itemFailed = false
    try {
      results = await inWriteTransaction(this.database, async (trx) => {
        const written = new Array<R>(group.length)
        const order = group.map((waiting, index) => ({key: this.keyOf(waiting.item), index})).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
        for (const {index} of order) {
          try {
            written[index] = await this.write(trx, group[index]!.item)
          } catch (error) {
            itemFailed = true
            throw error
          }
        }
        return written
      })
    } catch (error) {
      // Nothing of the group was committed. An item's own failure: each item alone, so only the bad one fails.
      if (itemFailed) for (const waiting of group) await this.writeAlone(waiting)
      else for (const waiting of group) waiting.reject(error)
      return
    }
    group.forEach((waiting, index) => waiting.resolve(results[index]!))
  }

  private async writeAlone(waiting: Waiting<I, R>): Promise<void> {
    try {
      waiting.resolve(await inWriteTransaction(this.database, (trx) => this.write(trx, waiting.item)))
    } catch (error) {
      waiting.reject(error)
    }
  }
}
