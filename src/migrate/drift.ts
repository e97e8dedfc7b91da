import {MigrationError} from '../errors/engage-error.js'
import type {MigrationRecord} from './storage.js'
import type {MigrationEntry} from './types.js'

/** An applied migration that no longer matches the code. */
export interface Drift {
  name: string
  /** `checksum-changed`: the source file was edited after it was applied; `missing-from-code`: no such migration ships. */
  kind: 'checksum-changed' | 'missing-from-code'
  appliedChecksum: string
  codeChecksum?: string
}

/** Compares what the database recorded with the migrations in the code. */
export function findDrift(records: readonly MigrationRecord[], migrations: readonly MigrationEntry[]): Drift[] {
  const byName = new Map(migrations.map((entry) => [entry.name, entry]))
  const drift: Drift[] = []
  for (const record of records) {
    const entry = byName.get(record.name)
    if (!entry) drift.push({name: record.name, kind: 'missing-from-code', appliedChecksum: record.checksum})
    else if (entry.checksum !== record.checksum) {
      drift.push({name: record.name, kind: 'checksum-changed', appliedChecksum: record.checksum, codeChecksum: entry.checksum})
    }
  }
  return drift
}

/**
 * Stops a run on drift: applying or reverting on top of a history the code
 * does not match would give a schema nobody wrote. Names every drifted migration.
 */
export function assertNoDrift(records: readonly MigrationRecord[], migrations: readonly MigrationEntry[]): void {
  const drift = findDrift(records, migrations)
  if (drift.length === 0) return
  const describe = (item: Drift) =>
    item.kind === 'missing-from-code'
      ? `${item.name} is recorded as applied but no such migration exists in this version of engage`
      : `${item.name} was changed after it was applied (checksum ${short(item.appliedChecksum)} recorded, ${short(item.codeChecksum ?? '')} in the code)`
  throw new MigrationError(`Migration history does not match the code: ${drift.map(describe).join('; ')}.`, {
    code: 'MIGRATION_DRIFT',
    details: {drift},
    suggestions: [
      'Run the engage version that applied these migrations, or restore the original migration file.',
      'Never edit an applied migration: add a new one instead. `engage migrate status` shows the drift.',
    ],
  })
}

/** First and last four hex digits: enough to tell checksums apart in a message. */
export function short(checksum: string): string {
  return checksum.length > 12 ? `${checksum.slice(0, 8)}…${checksum.slice(-4)}` : checksum
}
