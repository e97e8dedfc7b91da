import {createHash} from 'node:crypto'
import type {PoolClient} from 'pg'
import {openDatabase, type Database} from '../db/database.js'
import {parseDatabaseUrl} from '../db/database-url.js'
import {translatePostgresError} from '../db/postgres.js'
import {translateSqliteError} from '../db/sqlite.js'
import {DatabaseError, isEngageError, MigrationError, UsageError, type EngageError} from '../errors/engage-error.js'
import {MIGRATION_LOCK_KEY} from '../migrate/lock.js'
import {readRecords} from '../migrate/storage.js'
import {batchInsertSql, insertBatch} from './batch-insert.js'
import {planCopy} from './copy-plan.js'
import {assertSameMigrationVersion} from './migration-versions.js'
import {createProgress, dropProgress, markFinished, progressTableExists, readProgress, type TableProgress} from './progress-store.js'
import {describePostgresTables, describeSqliteTables, type SqliteReader} from './schema-discovery.js'
import {resetSequences, sqliteSequencePositions, type SequenceReset} from './sequences.js'
import {SqliteBatchReader} from './source-batches.js'
import {quoteIdentifier} from './sql-names.js'
import {digestPostgresTable, digestSqliteTable} from './table-digest.js'
import type {TableDigest, TablePlan} from './types.js'

/** Rows per batch (and per committed progress step) unless --batch-size says otherwise. */
export const DEFAULT_BATCH_SIZE = 5000

export interface CopyDatabaseOptions {
  /** The source: sqlite:PATH (or any form parseDatabaseUrl accepts for SQLite). */
  from: string
  /** The target: postgres://… */
  to: string
  batchSize?: number
  /** Empty the target's tables first when they hold rows. The caller has confirmed it (--truncate --yes). */
  truncate?: boolean
  onProgress?: (event: CopyProgressEvent) => void
}

export type CopyProgressEvent =
  | {type: 'start'; tables: string[]; resumed: boolean; totalRows: number}
  | {type: 'truncated'; tables: string[]}
  | {type: 'table'; table: string; rowsCopied: number; totalRows: number}
  | {type: 'batch'; table: string; rowsCopied: number; totalRows: number}
  | {type: 'verify'; table: string}

/** One table's outcome: copied in this run or an earlier one, and its verification. */
export interface TableCopyResult {
  table: string
  /** Rows in the source (the snapshot this run read). */
  rows: number
  /** Rows this run wrote (less than `rows` after a resume, 0 when an earlier run finished the table). */
  copiedThisRun: number
  seconds: number
  rowsPerSecond: number
  source: TableDigest
  target: TableDigest
  match: boolean
}

export interface CopyResult {
  source: string
  target: string
  /** copied: from the start; resumed: an interrupted run was finished; already-copied: the target already held an identical copy. */
  outcome: 'copied' | 'resumed' | 'already-copied'
  /** The migration version both databases are at. */
  migrations: string[]
  /** Tables emptied first (--truncate --yes on a non-empty target). */
  truncated: string[]
  tables: TableCopyResult[]
  sequences: SequenceReset[]
  seconds: number
  /** Every table's row count and checksum equal on both sides. */
  verified: boolean
  /** Set when verification failed: the error the command exits with, after printing the table. */
  error?: EngageError
}

/**
 * Copies every table of a migrated SQLite database into a PostgreSQL database
 * migrated to the same version: parents before children, in keyset batches
 * each committed with its progress row (so a killed run, re-run with the same
 * arguments, continues after the last committed batch), then resets the
 * serial/identity sequences and verifies row counts and checksums table by
 * table. The source is read inside one read transaction, a consistent
 * snapshot, and is never written. Refusals (different versions or schemas, a
 * non-empty target, a source changed since an interrupted run) happen before
 * anything is written. A checksum mismatch is returned in `error`, with the
 * per-table results, for the caller to print and then throw.
 */
export async function copyDatabase(options: CopyDatabaseOptions): Promise<CopyResult> {
  const started = performance.now()
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new UsageError(`--batch-size must be a whole number of at least 1 (got ${batchSize}).`, {code: 'INVALID_BATCH_SIZE'})
  }
  const sourceTarget = parseDatabaseUrl(options.from)
  const targetTarget = parseDatabaseUrl(options.to)
  if (sourceTarget.dialect !== 'sqlite') {
    throw new UsageError(`--from must be a SQLite database (sqlite:PATH); got ${sourceTarget.display}.`, {
      code: 'COPY_SOURCE_NOT_SQLITE',
      suggestions: ['engage db copy moves a SQLite database into PostgreSQL: --from sqlite:./engage.db --to postgres://…'],
    })
  }
  if (targetTarget.dialect !== 'postgres') {
    throw new UsageError(`--to must be a PostgreSQL URL (postgres://…); got ${targetTarget.display}.`, {
      code: 'COPY_TARGET_NOT_POSTGRES',
      suggestions: ['Pass --to postgres://user@host:5432/database, migrated first with `engage migrate up`.'],
    })
  }

  // The target first: an unreachable server fails before the source is even opened.
  const target = await openDatabase(options.to, {poolSize: 2})
  let source: Database | undefined
  let client: PoolClient | undefined
  let snapshot = false
  try {
    client = await target.pool!.connect().catch((error: unknown) => {
      throw translatePostgresError(error, target.target.display)
    })
    source = await openDatabase(options.from, {create: false})
    const sqlite = source.sqlite!
    await lockTarget(client, target.target.display)

    // One read transaction: every read below sees the same source, whatever else writes to it meanwhile.
    sqlite.prepare('BEGIN').run()
    snapshot = true
    const sourceRecords = await readRecords(source.db, 'sqlite')
    const targetRecords = await readRecords(target.db, 'postgres')
    assertSameMigrationVersion(sourceRecords, targetRecords, {source: source.target.display, target: target.target.display})
    const plans = planCopy(describeSqliteTables(sqlite), await describePostgresTables(client))

    const sourceDigests = new Map(plans.map((plan) => [plan.table, digestSqliteTable(sqlite, plan)]))
    const fingerprint = sourceFingerprint(sourceRecords.map((record) => record.checksum), plans, sourceDigests)
    const totalRows = [...sourceDigests.values()].reduce((sum, digest) => sum + digest.rows, 0)
    const sequencePositions = sqliteSequencePositions(sqlite)
    const base = {
      source: source.target.display,
      target: target.target.display,
      migrations: sourceRecords.map((record) => record.name),
    }

    const prepared = await prepareTarget(client, plans, fingerprint, sourceDigests, options.truncate === true, base)
    if (prepared.kind === 'already-copied') {
      const sequences = await resetSequences(client, plans, sequencePositions)
      return finish({...base, outcome: 'already-copied', truncated: [], sequences, tables: prepared.tables}, started)
    }
    if (prepared.truncated.length) options.onProgress?.({type: 'truncated', tables: prepared.truncated})
    options.onProgress?.({type: 'start', tables: plans.map((plan) => plan.table), resumed: prepared.resumed, totalRows})

    const runs = new Map<string, {copiedThisRun: number; seconds: number}>()
    for (const plan of plans) {
      const progress = prepared.progress.get(plan.table)!
      const total = sourceDigests.get(plan.table)!.rows
      if (progress.finished) {
        runs.set(plan.table, {copiedThisRun: 0, seconds: 0})
        continue
      }
      options.onProgress?.({type: 'table', table: plan.table, rowsCopied: progress.rowsCopied, totalRows: total})
      const tableStarted = performance.now()
      const copied = await copyTable(client, sqlite, plan, progress, batchSize, (rowsCopied) =>
        options.onProgress?.({type: 'batch', table: plan.table, rowsCopied, totalRows: total}),
      )
      await markFinished(client, plan.table)
      runs.set(plan.table, {copiedThisRun: copied, seconds: (performance.now() - tableStarted) / 1000})
    }
    // Every batch is in: the bookkeeping goes, so the target holds only what migrations made.
    await dropProgress(client)
    const sequences = await resetSequences(client, plans, sequencePositions)

    const tables: TableCopyResult[] = []
    for (const plan of plans) {
      options.onProgress?.({type: 'verify', table: plan.table})
      const run = runs.get(plan.table)!
      tables.push(tableResult(plan.table, sourceDigests.get(plan.table)!, await digestPostgresTable(client, plan), run))
    }
    return finish({...base, outcome: prepared.resumed ? 'resumed' : 'copied', truncated: prepared.truncated, sequences, tables}, started)
  } catch (error) {
    if (isEngageError(error)) throw error
    const code = String((error as {code?: unknown}).code ?? '')
    if (code.startsWith('SQLITE_')) throw translateSqliteError(error, sourceTarget.path)
    // pg's server errors carry a severity; socket errors an errno code. Anything else is a bug, reported as itself.
    if ((typeof error === 'object' && error !== null && 'severity' in error) || /^E[A-Z]+$/.test(code)) throw translatePostgresError(error, target.target.display)
    throw error
  } finally {
    if (snapshot) source?.sqlite?.prepare('ROLLBACK').run()
    client?.release()
    await Promise.allSettled([target.close(), source?.close()])
  }
}

type Prepared =
  | {kind: 'copy'; resumed: boolean; truncated: string[]; progress: Map<string, TableProgress>}
  | {kind: 'already-copied'; tables: TableCopyResult[]}

/**
 * Decides how this run starts: resume an interrupted run (same source
 * fingerprint), start on an empty target, or truncate (confirmed) and start.
 * A non-empty target without --truncate is refused, unless it already holds
 * an identical copy ("already done" is success). The truncate and the new
 * progress table commit in one transaction.
 */
async function prepareTarget(
  client: PoolClient,
  plans: readonly TablePlan[],
  fingerprint: string,
  sourceDigests: ReadonlyMap<string, TableDigest>,
  truncate: boolean,
  displays: {source: string; target: string},
): Promise<Prepared> {
  const tables = plans.map((plan) => plan.table)
  if (await progressTableExists(client)) {
    const progress = await readProgress(client)
    const sameRun = progress.length === tables.length && progress.every((row) => row.sourceFingerprint === fingerprint)
    if (sameRun && progress.every((row, index) => row.table === tables[index])) {
      return {kind: 'copy', resumed: true, truncated: [], progress: new Map(progress.map((row) => [row.table, row]))}
    }
    if (!truncate) {
      throw new DatabaseError(
        `${displays.target} holds an interrupted copy of another source state: ${displays.source} changed since that run started (its fingerprint differs).`,
        {
          code: 'COPY_SOURCE_CHANGED',
          details: {copiedSoFar: Object.fromEntries(progress.map((row) => [row.table, row.rowsCopied]))},
          suggestions: [
            'Resuming would mix rows of two different source states, so nothing was written.',
            'Start over with --truncate --yes (empties the target tables first).',
          ],
        },
      )
    }
  }

  const nonEmpty: string[] = []
  for (const table of tables) {
    const {rows} = await client.query(`SELECT EXISTS (SELECT 1 FROM ${quoteIdentifier(table)}) AS found`)
    if (rows[0]?.found) nonEmpty.push(table)
  }
  if (nonEmpty.length > 0 && !truncate) {
    const digests = new Map<string, TableDigest>()
    for (const plan of plans) digests.set(plan.table, await digestPostgresTable(client, plan))
    const identical = plans.every((plan) => sameDigest(digests.get(plan.table)!, sourceDigests.get(plan.table)!))
    if (identical) {
      return {
        kind: 'already-copied',
        tables: plans.map((plan) =>
          tableResult(plan.table, sourceDigests.get(plan.table)!, digests.get(plan.table)!, {copiedThisRun: 0, seconds: 0}),
        ),
      }
    }
    throw new UsageError(`The target ${displays.target} is not empty: ${nonEmpty.join(', ')} already hold rows.`, {
      code: 'COPY_TARGET_NOT_EMPTY',
      details: {tables: nonEmpty},
      suggestions: [
        'Pass --truncate --yes to empty those tables first (this deletes their rows), or point --to at a freshly migrated database.',
        'Nothing was written.',
      ],
    })
  }

  await client.query('BEGIN')
  try {
    if (nonEmpty.length > 0) {
      // One statement, children listed first: PostgreSQL truncates a referenced table only together with its referrers.
      await client.query(`TRUNCATE TABLE ${[...tables].reverse().map(quoteIdentifier).join(', ')}`)
    }
    await dropProgress(client)
    await createProgress(client, tables, fingerprint)
    await client.query('COMMIT')
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {})
    throw error
  }
  const progress = await readProgress(client)
  return {kind: 'copy', resumed: false, truncated: nonEmpty.length > 0 ? tables : [], progress: new Map(progress.map((row) => [row.table, row]))}
}

/**
 * Copies one table from its last committed key to the end. The next batch is
 * read from SQLite while PostgreSQL is still writing the previous one.
 */
async function copyTable(
  client: PoolClient,
  sqlite: SqliteReader,
  plan: TablePlan,
  progress: TableProgress,
  batchSize: number,
  onBatch: (rowsCopied: number) => void,
): Promise<number> {
  const reader = new SqliteBatchReader(sqlite, plan, batchSize)
  const sql = batchInsertSql(plan)
  let copied = 0
  let batch = reader.read(progress.lastKey)
  while (batch.rows > 0) {
    const writing = insertBatch(client, sql, plan, batch)
    // The write fails alone if it fails: the read below must not leave it unobserved.
    writing.catch(() => {})
    // A short batch is the table's last: no need to ask SQLite again.
    const next = batch.rows < batchSize ? undefined : reader.read(batch.lastKey)
    let rowsCopied: number
    try {
      rowsCopied = await writing
    } catch (error) {
      throw new DatabaseError(`Copying ${plan.table} failed after ${progress.rowsCopied + copied} rows: ${(error as Error).message}`, {
        code: 'COPY_BATCH_FAILED',
        cause: error,
        details: {table: plan.table, rowsCommitted: progress.rowsCopied + copied},
        suggestions: [
          'Every batch before this one is committed. Fix the cause, then run the same command again: it resumes after the last committed batch.',
        ],
      })
    }
    copied += batch.rows
    onBatch(rowsCopied)
    if (!next) break
    batch = next
  }
  return copied
}

async function lockTarget(client: PoolClient, display: string): Promise<void> {
  // The migration lock: no `migrate` run and no other copy can change the target while this one writes.
  const {rows} = await client.query<{locked: boolean}>('SELECT pg_try_advisory_lock($1::bigint) AS locked', [MIGRATION_LOCK_KEY])
  if (!rows[0]?.locked) {
    throw new DatabaseError(`Another engage run (a migration or a copy) holds the lock on ${display}.`, {
      code: 'DATABASE_BUSY',
      suggestions: ['Wait for it to finish, then run the copy again; nothing was written.'],
    })
  }
}

/** Identifies the source state: migration checksums, and each table's name, columns, row count and checksum. */
function sourceFingerprint(
  migrationChecksums: readonly string[],
  plans: readonly TablePlan[],
  digests: ReadonlyMap<string, TableDigest>,
): string {
  const parts = plans.map((plan) => [plan.table, plan.columns, digests.get(plan.table)!.rows, digests.get(plan.table)!.checksum])
  return createHash('sha256').update(JSON.stringify([migrationChecksums, parts])).digest('hex')
}

function sameDigest(a: TableDigest, b: TableDigest): boolean {
  return a.rows === b.rows && a.checksum === b.checksum
}

function tableResult(
  table: string,
  source: TableDigest,
  target: TableDigest,
  run: {copiedThisRun: number; seconds: number},
): TableCopyResult {
  return {
    table,
    rows: source.rows,
    copiedThisRun: run.copiedThisRun,
    seconds: Math.round(run.seconds * 1000) / 1000,
    rowsPerSecond: run.seconds > 0 ? Math.round(run.copiedThisRun / run.seconds) : 0,
    source,
    target,
    match: sameDigest(source, target),
  }
}

function finish(result: Omit<CopyResult, 'seconds' | 'verified'>, started: number): CopyResult {
  const mismatched = result.tables.filter((table) => !table.match)
  const verified = mismatched.length === 0
  const error = verified
    ? undefined
    : new MigrationError(
        `Verification failed: ${mismatched
          .map((table) => `${table.table} (source ${table.source.rows} rows, target ${table.target.rows} rows${table.source.rows === table.target.rows ? ', checksums differ' : ''})`)
          .join('; ')}.`,
        {
          code: 'COPY_VERIFICATION_FAILED',
          details: {tables: mismatched.map((table) => table.table)},
          suggestions: [
            'Do not switch to this copy. Run the copy again with --truncate --yes; if it fails again, compare the named tables row by row.',
          ],
        },
      )
  return {...result, seconds: Math.round(performance.now() - started) / 1000, verified, ...(error ? {error} : {})}
}
