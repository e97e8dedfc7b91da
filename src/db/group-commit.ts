import type {Database} from './database.js'
import {idleSqliteHandle, runStepsSync, runWriteSteps, transactionStatementsOf, type QuerySteps} from './query-steps.js'

/** The most units one SQLite transaction takes; the rest wait for the next turn (bounds how long the write lock is held). */
const MAX_GROUP = 256

interface Unit<T> {
  steps: () => QuerySteps<T>
  resolve: (value: T) => void
  reject: (error: unknown) => void
}

/**
 * Group commit for small write units (one Twilio callback each). On SQLite,
 * units submitted during one turn of the event loop are written in one
 * write transaction at the end of the turn, run synchronously one after the
 * other: a commit writes each touched page once for the group instead of
 * once per unit, and BEGIN/COMMIT are paid once. Every promise settles only
 * after COMMIT returned, so a unit is durable before its caller answers.
 *
 * A unit that throws must not take its neighbours down: the group is
 * rolled back and each unit is run again alone, in its own transaction, so
 * only the failing one rejects. On PostgreSQL (or while another transaction
 * holds the SQLite connection) each unit runs in its own transaction at once.
 */
export class GroupCommit {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private queue: Array<Unit<any>> = []
  private scheduled = false

  constructor(private readonly database: Database) {}

  run<T>(steps: () => QuerySteps<T>): Promise<T> {
    if (this.database.sqlite === undefined) return Promise.resolve(runWriteSteps(this.database, steps))
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
    const handle = idleSqliteHandle(this.database)
    if (handle === undefined || group.length === 1) {
      for (const unit of group) settle(unit, () => runWriteSteps(this.database, unit.steps))
      return
    }
    const {begin, commit, rollback} = transactionStatementsOf(handle)
    const results: unknown[] = []
    try {
      begin.run()
      for (const unit of group) results.push(runStepsSync(this.database.db, handle, unit.steps()))
      commit.run()
    } catch {
      if (handle.inTransaction) rollback.run()
      for (const unit of group) settle(unit, () => runWriteSteps(this.database, unit.steps))
      return
    }
    group.forEach((unit, index) => unit.resolve(results[index]))
  }
}

function settle<T>(unit: Unit<T>, work: () => T | Promise<T>): void {
  try {
    Promise.resolve(work()).then(unit.resolve, unit.reject)
  } catch (error) {
    unit.reject(error)
  }
}
