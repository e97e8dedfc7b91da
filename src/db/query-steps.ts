import type BetterSqlite3 from 'better-sqlite3'
import type {Kysely} from 'kysely'
import {inWriteTransaction, type Database} from './database.js'
import type {PreparedQuery, QueryOutcome} from './prepared-query.js'

/* eslint-disable @typescript-eslint/no-explicit-any */

/** One query a step function asks its runner to execute. */
export interface QueryStep {
  query: PreparedQuery<any, any>
  params: Record<string, unknown>
}

/**
 * Database work written once for both ways of running it: a generator that
 * yields each query (`yield* step(QUERY, params)`) and resumes with its
 * outcome. runSteps awaits each query through Kysely (either dialect, any
 * transaction); on an idle SQLite handle, runWriteSteps runs the same
 * generator synchronously, start to end, inside BEGIN IMMEDIATE … COMMIT.
 */
export type QuerySteps<T> = Generator<QueryStep, T, QueryOutcome<any>>

/** Runs one prepared query as a step and returns its outcome. */
export function* step<Params extends Record<string, unknown>, Row>(
  query: PreparedQuery<Params, Row>,
  params: Params,
): Generator<QueryStep, QueryOutcome<Row>, QueryOutcome<any>> {
  return yield {query, params}
}

/** Runs the steps through `db` (the pool, or the caller's transaction), one awaited query at a time. */
export async function runSteps<T>(db: Kysely<any>, steps: QuerySteps<T>): Promise<T> {
  let next = steps.next()
  while (!next.done) next = steps.next(await next.value.query.execute(db, next.value.params))
  return next.value
}

/** Runs the steps on a SQLite handle, synchronously; the caller holds the transaction. */
export function runStepsSync<T>(db: Kysely<any>, handle: BetterSqlite3.Database, steps: QuerySteps<T>): T {
  let next = steps.next()
  while (!next.done) next = steps.next(next.value.query.executeSync(db, handle, next.value.params))
  return next.value
}

/**
 * The database's better-sqlite3 handle when statements can run on it
 * directly right now: a SQLite database whose one connection is not inside
 * a transaction (a Kysely transaction awaiting between statements holds it
 * open; joining it would mix our reads or writes into someone else's
 * transaction). Otherwise undefined: go through Kysely, which queues on the
 * connection.
 */
export function idleSqliteHandle(database: Database): BetterSqlite3.Database | undefined {
  const handle = database.sqlite
  return handle !== undefined && !handle.inTransaction ? handle : undefined
}

interface TransactionStatements {
  begin: BetterSqlite3.Statement
  commit: BetterSqlite3.Statement
  rollback: BetterSqlite3.Statement
}

const transactionStatements = new WeakMap<BetterSqlite3.Database, TransactionStatements>()

/** BEGIN IMMEDIATE, COMMIT and ROLLBACK, prepared once per handle. */
export function transactionStatementsOf(handle: BetterSqlite3.Database): TransactionStatements {
  let statements = transactionStatements.get(handle)
  if (statements === undefined) {
    statements = {begin: handle.prepare('BEGIN IMMEDIATE'), commit: handle.prepare('COMMIT'), rollback: handle.prepare('ROLLBACK')}
    transactionStatements.set(handle, statements)
  }
  return statements
}

/**
 * Runs the steps in one write transaction, as inWriteTransaction does. On
 * an idle SQLite handle the whole transaction runs synchronously (BEGIN
 * IMMEDIATE, the steps, COMMIT in one tick): nothing else in this process
 * can interleave, and no promise is awaited per statement. Otherwise
 * (PostgreSQL, or a SQLite connection busy in another transaction) it goes
 * through inWriteTransaction. Returns the value, or a promise of it.
 */
export function runWriteSteps<T>(database: Database, steps: () => QuerySteps<T>): T | Promise<T> {
  const handle = idleSqliteHandle(database)
  if (handle === undefined) return inWriteTransaction(database, (trx) => runSteps(trx, steps()))
  const {begin, commit, rollback} = transactionStatementsOf(handle)
  begin.run()
  try {
    const result = runStepsSync(database.db, handle, steps())
    commit.run()
    return result
  } catch (error) {
    if (handle.inTransaction) rollback.run()
    throw error
  }
}
