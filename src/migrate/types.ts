import type {Kysely} from 'kysely'
import type {Logger} from '../cli/logger.js'
import type {Settings} from '../config/env.js'
import type {Dialect} from '../db/database.js'

/** Options an operator passes to `migrate up` / `down` that migrations may read. */
export interface MigrationOptions {
  /** Archive legacy credential rows that do not decrypt instead of stopping (migration 2). */
  archiveUndecryptable?: boolean
}

/**
 * What a migration's `up` / `down` receives. `db` is the open write
 * transaction: the migration and its storage record commit together, or not
 * at all. Migrations never open connections or transactions of their own.
 */
export interface MigrationContext {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  db: Kysely<any>
  dialect: Dialect
  /** Environment + .env, for ENCRYPTION_KEY and friends. */
  settings: Settings
  options: MigrationOptions
  logger: Logger
}

/**
 * A migration module's exports. `up` may return a report (a plain JSON
 * object, no secrets) that `migrate up` prints; `--dry-run` runs `up` inside a
 * transaction that is rolled back, so the report is exact.
 */
export interface MigrationModule {
  up(context: MigrationContext): Promise<MigrationReport | void>
  down(context: MigrationContext): Promise<MigrationReport | void>
}

export type MigrationReport = Record<string, unknown>

/**
 * An entry of the migration index: name (sortable), SHA-256 of the source
 * file, and how to load the module. Loaded only when the migration is to run,
 * so `migrate status` and the drift check never load migration code.
 */
export interface MigrationEntry {
  name: string
  checksum: string
  load(): Promise<MigrationModule>
}
