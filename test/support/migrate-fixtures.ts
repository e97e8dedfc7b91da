import {createHash} from 'node:crypto'
import {sql, type Kysely} from 'kysely'
import {silentLogger} from '../../src/cli/logger.js'
import {Settings} from '../../src/config/env.js'
import type {Database, Dialect} from '../../src/db/database.js'
import {createMigrator, type MigratorConfig} from '../../src/migrate/migrator.js'
import {listTables} from '../../src/migrate/schema-inspect.js'
import {readRecords} from '../../src/migrate/storage.js'
import {LEGACY_POSTGRES_STATEMENTS, LEGACY_SQLITE_STATEMENTS} from '../../src/schema/legacy-schema.js'
import type {MigrationContext, MigrationEntry, MigrationReport} from '../../src/migrate/types.js'

/** A checksum as the index generator would compute it, from a stand-in "source". */
export function checksumOf(source: string): string {
  return createHash('sha256').update(source).digest('hex')
}

/** A custom migration for engine tests: creates (and on down drops) one table, optionally doing more. */
export function tableMigration(
  name: string,
  table: string,
  extra: {source?: string; afterCreate?: (context: MigrationContext) => Promise<void>; report?: MigrationReport} = {},
): MigrationEntry {
  return {
    name,
    checksum: checksumOf(extra.source ?? `${name}:${table}`),
    load: async () => ({
      async up(context) {
        await sql`CREATE TABLE ${sql.table(table)} (id INTEGER PRIMARY KEY, note TEXT)`.execute(context.db)
        await extra.afterCreate?.(context)
        return extra.report ?? {created: table}
      },
      async down(context) {
        await sql`DROP TABLE ${sql.table(table)}`.execute(context.db)
        return {dropped: table}
      },
    }),
  }
}

export function testMigrator(database: Database, overrides: Partial<MigratorConfig> = {}) {
  return createMigrator({
    database,
    settings: new Settings({ENGAGE_OPERATOR: 'engine-test'}, {}),
    logger: silentLogger,
    ...overrides,
  })
}

export async function tablesOf(database: Database): Promise<string[]> {
  return listTables(database.db, database.dialect)
}

export async function recordsOf(database: Database) {
  return readRecords(database.db, database.dialect)
}

/** Every row of every given table, ordered, for before/after comparisons. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function dumpTables(db: Kysely<any>, tables: readonly string[]): Promise<Record<string, unknown[]>> {
  const dump: Record<string, unknown[]> = {}
  for (const table of tables) {
    const {rows} = await sql`SELECT * FROM ${sql.table(table)} ORDER BY 1`.execute(db)
    dump[table] = rows
  }
  return dump
}

/** The contract's statements for a dialect, to build a "production" legacy database by hand. */
export function legacyStatements(dialect: Dialect): readonly string[] {
  return dialect === 'sqlite' ? LEGACY_SQLITE_STATEMENTS : LEGACY_POSTGRES_STATEMENTS
}
