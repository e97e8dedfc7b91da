import {MigrationError} from '../errors/engage-error.js'
import type {MigrationRecord} from '../migrate/storage.js'

/** One side's applied migrations that the other side lacks or records with another checksum. */
export interface MigrationVersionDifference {
  onlyInSource: string[]
  onlyInTarget: string[]
  /** Applied on both sides with different checksums (a different file was applied). */
  checksumDiffers: string[]
}

/** Compares the applied records by name and checksum; who applied them, and when, may differ. */
export function diffMigrationVersions(
  source: readonly Pick<MigrationRecord, 'name' | 'checksum'>[],
  target: readonly Pick<MigrationRecord, 'name' | 'checksum'>[],
): MigrationVersionDifference {
  const sourceByName = new Map(source.map((record) => [record.name, record.checksum]))
  const targetByName = new Map(target.map((record) => [record.name, record.checksum]))
  return {
    onlyInSource: [...sourceByName.keys()].filter((name) => !targetByName.has(name)).sort(),
    onlyInTarget: [...targetByName.keys()].filter((name) => !sourceByName.has(name)).sort(),
    checksumDiffers: [...sourceByName]
      .filter(([name, checksum]) => targetByName.has(name) && targetByName.get(name) !== checksum)
      .map(([name]) => name)
      .sort(),
  }
}

/**
 * Refuses a copy between databases at different migration versions: rows of
 * one schema version do not fit another. A target with no history at all
 * gets the command that prepares it.
 */
export function assertSameMigrationVersion(
  source: readonly Pick<MigrationRecord, 'name' | 'checksum'>[],
  target: readonly Pick<MigrationRecord, 'name' | 'checksum'>[],
  displays: {source: string; target: string},
): void {
  if (source.length === 0) {
    throw new MigrationError(`The source ${displays.source} has no applied migrations (no engage_migrations records).`, {
      code: 'COPY_SOURCE_NOT_MIGRATED',
      suggestions: [`Run \`engage migrate up --database-url ${displays.source}\` first, then copy again.`],
    })
  }
  if (target.length === 0) {
    throw new MigrationError(`The target ${displays.target} has no engage_migrations: it was never migrated.`, {
      code: 'COPY_TARGET_NOT_MIGRATED',
      details: {sourceMigrations: source.map((record) => record.name)},
      suggestions: [
        `Create the schema first: engage migrate up --database-url ${displays.target}` +
          (source.length ? ` --to ${source[source.length - 1]!.name}` : ''),
        'Then run the copy again. Nothing was written.',
      ],
    })
  }
  const difference = diffMigrationVersions(source, target)
  const parts = [
    difference.onlyInSource.length ? `applied only in the source: ${difference.onlyInSource.join(', ')}` : '',
    difference.onlyInTarget.length ? `applied only in the target: ${difference.onlyInTarget.join(', ')}` : '',
    difference.checksumDiffers.length ? `applied with different checksums: ${difference.checksumDiffers.join(', ')}` : '',
  ].filter(Boolean)
  if (parts.length === 0) return
  throw new MigrationError(`The source and target are at different migration versions (${parts.join('; ')}).`, {
    code: 'COPY_VERSION_MISMATCH',
    details: {...difference},
    suggestions: [
      'Bring both to the same version with `engage migrate up` (or `migrate down`) on the one behind, then copy again.',
      'Nothing was written to the target.',
    ],
  })
}
