import type {Kysely} from 'kysely'
import type {RunnableMigration, UmzugStorage} from 'umzug'
import type {Logger} from '../cli/logger.js'
import type {Settings} from '../config/env.js'
import {inWriteTransaction, type Database} from '../db/database.js'
import {UsageError, type EngageError} from '../errors/engage-error.js'
import {assertNoDrift, findDrift} from './drift.js'
import {toEngageError, withDetails} from './errors.js'
import {acquireRunLock} from './lock.js'
import {operatorName} from './operator.js'
import type {MigrationResult, MigrationRunResult, MigrationStatusEntry, MigrationStatusResult} from './results.js'
import {deleteRecord, ensureStorageTable, hasRecord, insertRecord, readRecords, type MigrationRecord} from './storage.js'
import type {MigrationEntry, MigrationOptions} from './types.js'

/** Default wait for the run lock (PostgreSQL advisory lock) and SQLite's busy timeout. */
export const DEFAULT_LOCK_TIMEOUT_MS = 5000

export interface MigratorConfig {
  database: Database
  settings: Settings
  logger: Logger
  /** The migrations to run; default: the generated index `migrations/index.ts`. Tests pass their own. */
  migrations?: readonly MigrationEntry[]
  /** Passed to every migration as `context.options`. */
  options?: MigrationOptions
  /** How long to wait for another run's lock before failing with DATABASE_BUSY. */
  lockTimeoutMs?: number
}

/** Progress of a run, for a progress renderer: one `start` and one `finish` per migration run. */
export type MigrationProgressEvent =
  | {type: 'start'; name: string; direction: 'up' | 'down'}
  | {type: 'finish'; result: MigrationResult}

export interface UpOptions {
  /** Apply pending migrations up to and including this one (full name or its NNNN prefix). */
  to?: string
  /** Run the pending migrations in one transaction and roll it back; reports are exact, nothing is kept. */
  dryRun?: boolean
  onProgress?: (event: MigrationProgressEvent) => void
}

export interface DownOptions {
  /** Revert applied migrations down to and including this one. */
  to?: string
  /** Revert this many of the latest applied migrations (default 1). */
  step?: number
  onProgress?: (event: MigrationProgressEvent) => void
}

export interface Migrator {
  /** The names `up` / `down` would run now, in order. Throws MigrationError on drift, UsageError on a bad target. */
  plan(direction: 'up', options?: Pick<UpOptions, 'to'>): Promise<string[]>
  plan(direction: 'down', options?: Pick<DownOptions, 'to' | 'step'>): Promise<string[]>
  up(options?: UpOptions): Promise<MigrationRunResult>
  down(options?: DownOptions): Promise<MigrationRunResult>
  /** Applied, pending and drifted migrations. Reads only: never creates the storage table. */
  status(): Promise<MigrationStatusResult>
}

class DryRunRollback extends Error {}

/**
 * The migration engine: Umzug runs the migrations in order, and engage adds
 * what Umzug lacks. Each migration and its `engage_migrations` record commit
 * in one write transaction (the Umzug storage therefore never writes on its
 * own), the record is re-checked inside that transaction so a concurrent run
 * skips instead of applying twice, PostgreSQL runs hold an advisory lock,
 * and drift (an applied migration edited or gone) stops `up` and `down`.
 * `up` / `down` return a result per migration and never throw.
 */
export function createMigrator(config: MigratorConfig): Migrator {
  const {database, settings, logger} = config
  const lockTimeoutMs = config.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS
  let loaded: readonly MigrationEntry[] | undefined = config.migrations
  const migrations = async (): Promise<readonly MigrationEntry[]> => {
    // The index imports every migration module; load it only when a run needs it.
    loaded ??= (await import('../../migrations/index.js')).MIGRATIONS
    return loaded
  }

  async function planUp(entries: readonly MigrationEntry[], records: readonly MigrationRecord[], to?: string): Promise<string[]> {
    const applied = new Set(records.map((record) => record.name))
    const limit = to === undefined ? entries.length : entries.findIndex((entry) => entry.name === resolveName(to, entries)) + 1
    return entries
      .slice(0, limit)
      .filter((entry) => !applied.has(entry.name))
      .map((entry) => entry.name)
  }

  async function planDown(
    entries: readonly MigrationEntry[],
    records: readonly MigrationRecord[],
    options: Pick<DownOptions, 'to' | 'step'>,
  ): Promise<string[]> {
    const applied = records.map((record) => record.name).sort().reverse()
    if (options.to !== undefined) {
      const target = resolveName(options.to, entries)
      const index = applied.indexOf(target)
      if (index === -1) {
        throw new UsageError(`${target} is not applied, so there is nothing to revert down to.`, {
          code: 'MIGRATION_NOT_APPLIED',
          suggestions: ['`engage migrate status` lists the applied migrations.'],
        })
      }
      return applied.slice(0, index + 1)
    }
    const step = options.step ?? 1
    if (!Number.isInteger(step) || step < 1) {
      throw new UsageError(`--step must be a whole number of at least 1 (got ${step}).`, {code: 'INVALID_STEP'})
    }
    return applied.slice(0, step)
  }

  async function plan(direction: 'up' | 'down', options: UpOptions & DownOptions = {}): Promise<string[]> {
    const entries = await migrations()
    const records = await readRecords(database.db, database.dialect)
    assertNoDrift(records, entries)
    return direction === 'up' ? planUp(entries, records, options.to) : planDown(entries, records, options)
  }

  async function run(direction: 'up' | 'down', options: UpOptions & DownOptions): Promise<MigrationRunResult> {
    const dryRun = direction === 'up' && options.dryRun === true
    const results: MigrationResult[] = []
    const finish = (error?: EngageError): MigrationRunResult => ({
      direction,
      dryRun,
      results,
      ...(error ? {error: withDetails(error, {results})} : {}),
    })
    let lock: {release(): Promise<void>} | undefined
    let current: string | undefined
    try {
      const entries = await migrations()
      lock = await acquireRunLock(database, lockTimeoutMs)
      // Plan under the lock: on PostgreSQL nobody else can move the history now.
      const records = await readRecords(database.db, database.dialect)
      assertNoDrift(records, entries)
      const names = direction === 'up' ? await planUp(entries, records, options.to) : await planDown(entries, records, options)
      if (names.length === 0) return finish()
      const byName = new Map(entries.map((entry) => [entry.name, entry]))
      // Loaded before the first transaction, so no write lock is held while modules load.
      const modules = new Map(await Promise.all(names.map(async (name) => [name, await byName.get(name)!.load()] as const)))
      const appliedBy = operatorName(settings)

      const step = async (trx: Kysely<any>, entry: MigrationEntry): Promise<MigrationResult> => {
        if (direction === 'up') await ensureStorageTable(trx)
        // The re-check: another run may have committed this migration while we waited for the write lock.
        const recorded = await hasRecord(trx, entry.name)
        if (direction === 'up' ? recorded : !recorded) return {name: entry.name, direction, status: 'skipped'}
        const started = performance.now()
        const report = await modules.get(entry.name)![direction]({
          db: trx,
          dialect: database.dialect,
          settings,
          options: config.options ?? {},
          logger,
        })
        const durationMs = Math.round(performance.now() - started)
        if (direction === 'up') {
          await insertRecord(trx, {name: entry.name, checksum: entry.checksum, appliedAt: new Date().toISOString(), durationMs, appliedBy})
        } else await deleteRecord(trx, entry.name)
        const status = dryRun ? 'dry-run' : direction === 'up' ? 'applied' : 'reverted'
        return {name: entry.name, direction, status, durationMs, ...(report ? {report} : {})}
      }

      // In a dry run every migration shares the one transaction that is rolled back at the end.
      let shared: Kysely<any> | undefined
      const record = (result: MigrationResult) => {
        results.push(result)
        options.onProgress?.({type: 'finish', result})
      }
      const runnable: RunnableMigration<object>[] = names.map((name) => {
        const entry = byName.get(name)!
        const execute = async () => {
          current = name
          record(shared ? await step(shared, entry) : await inWriteTransaction(database, (trx) => step(trx, entry)))
          current = undefined
        }
        return {name, up: execute, down: execute}
      })
      const storage: UmzugStorage<object> = {
        // Records are written by `step`, inside the migration's own transaction.
        logMigration: async () => {},
        unlogMigration: async () => {},
        executed: async () => (await readRecords(shared ?? database.db, database.dialect)).map((r) => r.name),
      }
      const {Umzug} = await loadUmzug()
      const umzug = new Umzug<object>({migrations: runnable, storage, logger: undefined, context: {}})
      umzug.on(direction === 'up' ? 'migrating' : 'reverting', ({name}) => options.onProgress?.({type: 'start', name, direction}))
      // Explicit names + SKIP: a migration another process finished meanwhile is skipped, never an error.
      const go = () =>
        direction === 'up' ? umzug.up({migrations: names, rerun: 'SKIP'}) : umzug.down({migrations: names, rerun: 'SKIP'})
      if (dryRun) {
        await inWriteTransaction(database, async (trx) => {
          shared = trx
          await go()
          throw new DryRunRollback()
        }).catch((error: unknown) => {
          if (!(error instanceof DryRunRollback)) throw error
        })
      } else await go()
      return finish()
    } catch (error) {
      const cause = unwrapUmzugError(error)
      const failed = toEngageError(cause, database, current ? {name: current, direction} : undefined)
      if (current) {
        const result: MigrationResult = {name: current, direction, status: 'failed'}
        results.push(result)
        options.onProgress?.({type: 'finish', result})
      }
      return finish(failed)
    } finally {
      await lock?.release()
    }
  }

  async function status(): Promise<MigrationStatusResult> {
    const entries = await migrations()
    const records = await readRecords(database.db, database.dialect)
    const byName = new Map(records.map((record) => [record.name, record]))
    const drift = new Map(findDrift(records, entries).map((item) => [item.name, item]))
    const rows: MigrationStatusEntry[] = entries.map((entry) => {
      const record = byName.get(entry.name)
      if (!record) return {name: entry.name, state: 'pending', checksum: entry.checksum}
      return {
        name: entry.name,
        state: drift.has(entry.name) ? 'drifted' : 'applied',
        checksum: entry.checksum,
        appliedChecksum: record.checksum,
        appliedAt: record.appliedAt,
        appliedBy: record.appliedBy,
        durationMs: record.durationMs,
        ...(drift.has(entry.name) ? {drift: 'checksum-changed' as const} : {}),
      }
    })
    for (const item of drift.values()) {
      if (item.kind !== 'missing-from-code') continue
      const record = byName.get(item.name)!
      rows.push({
        name: item.name,
        state: 'drifted',
        appliedChecksum: record.checksum,
        appliedAt: record.appliedAt,
        appliedBy: record.appliedBy,
        durationMs: record.durationMs,
        drift: 'missing-from-code',
      })
    }
    rows.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    const count = (state: MigrationStatusEntry['state']) => rows.filter((row) => row.state === state).length
    return {
      database: database.target.display,
      migrations: rows,
      summary: {applied: count('applied'), pending: count('pending'), drifted: count('drifted')},
    }
  }

  return {
    plan: plan as Migrator['plan'],
    up: (options = {}) => run('up', options),
    down: (options = {}) => run('down', options),
    status,
  }
}

/** A full name, or its unique `NNNN` prefix. */
function resolveName(wanted: string, entries: readonly MigrationEntry[]): string {
  const exact = entries.find((entry) => entry.name === wanted)
  if (exact) return exact.name
  const prefixed = entries.filter((entry) => entry.name.startsWith(`${wanted}-`))
  if (prefixed.length === 1) return prefixed[0]!.name
  throw new UsageError(`No migration is named "${wanted}".`, {
    code: 'MIGRATION_UNKNOWN',
    suggestions: [`Known migrations: ${entries.map((entry) => entry.name).join(', ') || '(none)'}.`],
  })
}

// Umzug (and its CLI dependency) costs ~100 ms to load; `status` never needs it.
async function loadUmzug(): Promise<typeof import('umzug')> {
  const module = (await import('umzug')) as typeof import('umzug') & {default?: typeof import('umzug')}
  return module.Umzug ? module : module.default!
}

/** Umzug wraps what a migration threw in its own MigrationError; the original is what we report. */
function unwrapUmzugError(error: unknown): unknown {
  if (error instanceof Error && error.constructor.name === 'MigrationError' && 'migration' in error && error.cause) return error.cause
  return error
}
