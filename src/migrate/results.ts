import type {EngageError} from '../errors/engage-error.js'
import type {Drift} from './drift.js'
import type {MigrationReport} from './types.js'

/**
 * What happened to one migration in a run (Kysely Migrator style):
 * - `applied` / `reverted`: done and committed with its record;
 * - `dry-run`: ran inside the dry-run transaction, then rolled back;
 * - `skipped`: another process applied (or reverted) it while this run waited for the lock;
 * - `failed`: it threw; its transaction was rolled back;
 * - `not-run`: planned, but an earlier migration failed.
 */
export type MigrationResultStatus = 'applied' | 'reverted' | 'dry-run' | 'skipped' | 'failed' | 'not-run'

export interface MigrationResult {
  name: string
  direction: 'up' | 'down'
  status: MigrationResultStatus
  durationMs?: number
  /** What the migration's `up` / `down` returned: counts and ids, never secrets. */
  report?: MigrationReport
}

/** The outcome of `up` / `down`. Never thrown: `error` is set when the run stopped. */
export interface MigrationRunResult {
  direction: 'up' | 'down'
  dryRun: boolean
  /** One entry per planned migration, in run order. Empty: nothing to do. */
  results: MigrationResult[]
  error?: EngageError
}

/** `status` of one migration, code and database side by side. */
export interface MigrationStatusEntry {
  name: string
  state: 'applied' | 'pending' | 'drifted'
  /** Checksum of the migration in the code (absent for a recorded name with no code). */
  checksum?: string
  appliedChecksum?: string
  appliedAt?: string
  appliedBy?: string
  durationMs?: number
  drift?: Drift['kind']
}

export interface MigrationStatusResult {
  database: string
  migrations: MigrationStatusEntry[]
  summary: {applied: number; pending: number; drifted: number}
}
