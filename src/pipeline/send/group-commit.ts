import type {Kysely} from 'kysely'
import {inWriteTransaction, type Database} from '../../db/database.js'

/* eslint-disable @typescript-eslint/no-explicit-any */

interface Waiting<I, R> {
  item: I
  resolve: (result: R) => void
  reject: (error: unknown) => void
}

/**
 * Writes that arrive together share one write transaction ("group commit"):
 * `submit` resolves once its item's writes are committed, never before, so a
 * caller may act on them (acknowledge a queue record) exactly as after its
 * own transaction. Items submitted while a group is being written form the
 * next group; a group is started on the next turn of the event loop, so
 * provider answers read in the same turn are written together. If a group's
 * transaction fails, each of its items is written again in a transaction of
 * its own, so one bad item fails alone and the others are not held back.
 * Items are written in the order of `keyOf` (the message id), the order the
 * claims lock rows in, so on PostgreSQL two transactions touching the same
 * rows take their locks in the same order and cannot deadlock.
 *
 * SQLite has one writer, so one group at a time; PostgreSQL commits of
 * separate connections overlap (a commit waits on its WAL flush), so two
 * groups may be written at once there.
 */
export class GroupCommit<I, R> {
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
    try {
      results = await inWriteTransaction(this.database, async (trx) => {
        const written = new Array<R>(group.length)
        const order = group.map((waiting, index) => ({key: this.keyOf(waiting.item), index})).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
        for (const {index} of order) written[index] = await this.write(trx, group[index]!.item)
        return written
      })
    } catch {
      // Nothing of the group was committed: each item on its own, so only a bad one fails.
      for (const waiting of group) await this.writeAlone(waiting)
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
