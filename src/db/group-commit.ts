import type BetterSqlite3 from 'better-sqlite3'
import {inWriteTransaction, type Database} from './database.js'
import {idleSqliteHandle, runSteps, runStepsSync, runWriteSteps, transactionStatementsOf, type QuerySteps} from './query-steps.js'

/** The most units one transaction takes; the rest wait for the next turn (bounds how long the write lock is held). */
const MAX_GROUP = 256

interface Unit<T> {
  steps: () => QuerySteps<T>
  resolve: (value: T) => void
  reject: (error: unknown) => void
}

/**
 * Group commit for small write units (one Twilio callback each): units
 * submitted during one turn of the event loop are written in one write
 * transaction at the end of the turn, one after the other, so BEGIN/COMMIT
 * (and on PostgreSQL the commit's WAL flush, on SQLite each touched page)
 * are paid once for the group instead of once per unit. Every promise
 * settles only after COMMIT returned: a unit is durable before its caller
 * answers. On an idle SQLite connection the group runs synchronously
 * (runStepsSync); otherwise through inWriteTransaction, query by query.
 *
 * A unit that throws must not take its neighbours down: the group is rolled
 * back and each unit is run again alone, in its own transaction, so only
 * the failing one rejects. The same holds when PostgreSQL aborts a group
 * (e.g. a deadlock with another group over the same rows). When the
 * transaction itself cannot begin or commit (SQLite's write lock busy past
 * its timeout, a lost connection), every unit of the group rejects: nothing
 * of it was written, and its callers answer an error.
 */
export class GroupCommit {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private queue: Array<Unit<any>> = []
  private scheduled = false

  constructor(private readonly database: Database) {}

  run<T>(steps: () => QuerySteps<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({steps, resolve, reject})
      if (!this.scheduled) {
        this.scheduled = true
        setImmediate(() => this.flush())
      }
    })
  }

  private flush(): void {
    this.scheduled = false
    const group = this.queue.splice(0, MAX_GROUP)
    if (this.queue.length > 0) {
      this.scheduled = true
      setImmediate(() => this.flush())
    }
    if (group.length === 1) return this.runAlone(group)
    const handle = idleSqliteHandle(this.database)
    if (handle !== undefined) this.commitNow(handle, group)
    else void this.commitAwaited(group)
  }

  private commitNow(handle: BetterSqlite3.Database, group: Array<Unit<unknown>>): void {
    const {begin, commit, rollback} = transactionStatementsOf(handle)
    try {
      begin.run()
    } catch (error) {
      // No write lock within the busy timeout: running each unit alone would wait that long again, per unit.
      return rejectAll(group, error)
    }
    const results: unknown[] = []
    try {
      for (const unit of group) results.push(runStepsSync(this.database.db, handle, unit.steps()))
    } catch {
      rollback.run()
      return this.runAlone(group)
    }
    try {
      commit.run()
    } catch (error) {
      if (handle.inTransaction) rollback.run()
      return rejectAll(group, error)
    }
    group.forEach((unit, index) => unit.resolve(results[index]))
  }

  private async commitAwaited(group: Array<Unit<unknown>>): Promise<void> {
    let unitFailed = false
    let results: unknown[]
    try {
      results = await inWriteTransaction(this.database, async (trx) => {
        const written: unknown[] = []
        for (const unit of group) {
          try {
            written.push(await runSteps(trx, unit.steps()))
          } catch (error) {
            unitFailed = true
            throw error
          }
        }
        return written
      })
    } catch (error) {
      // A unit's failure (or PostgreSQL aborting it, e.g. a deadlock) is that unit's alone; BEGIN or COMMIT failing is everyone's.
      return unitFailed ? this.runAlone(group) : rejectAll(group, error)
    }
    group.forEach((unit, index) => unit.resolve(results[index]))
  }

  private runAlone(group: Array<Unit<unknown>>): void {
    for (const unit of group) {
      try {
        Promise.resolve(runWriteSteps(this.database, unit.steps)).then(unit.resolve, unit.reject)
      } catch (error) {
        unit.reject(error)
      }
    }
  }
}

function rejectAll(group: Array<Unit<unknown>>, error: unknown): void {
  for (const unit of group) unit.reject(error)
}
