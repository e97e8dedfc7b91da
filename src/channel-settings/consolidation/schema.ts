import {sql, type Kysely} from 'kysely'
import type {Dialect} from '../../db/database.js'
import {MigrationError} from '../../errors/engage-error.js'
import {LEGACY_POSTGRES_STATEMENTS, LEGACY_SQLITE_STATEMENTS} from '../../schema/legacy-schema.js'
import {TABLES} from './types.js'

/* eslint-disable @typescript-eslint/no-explicit-any */

/** Adds the SCHEMA.md columns to `tenant_channel_settings`; legacy columns and rows stay as they are. */
export async function addSettingsColumns(db: Kysely<any>): Promise<void> {
  const table = () => db.schema.alterTable(TABLES.settings)
  // SQLite takes one ADD COLUMN per statement; adding is cheap there (no table rewrite).
  await table().addColumn('provider_config_json', 'text', (c) => c.notNull().defaultTo('{}')).execute()
  await table().addColumn('credentials_encrypted', 'text').execute()
  await table().addColumn('messaging_service_sid', 'text').execute()
  await table().addColumn('webhook_url', 'text').execute()
  await table().addColumn('webhook_secret_encrypted', 'text').execute()
  await table().addColumn('is_verified', 'integer', (c) => c.notNull().defaultTo(0)).execute()
  await table().addColumn('verified_at', 'text').execute()
  await table().addColumn('verification_error', 'text').execute()
}

/**
 * The archive of legacy rows. On PostgreSQL without its primary key, which
 * addArchivePrimaryKey adds once the rows are in: building the index from
 * all 100,000 ids at once took less than adding an entry (and its WAL
 * record) per row, and nothing reads the archive by id while the pages are
 * written (write-returning.ts). SQLite's key is the rowid, which cannot be
 * added later.
 */
export async function createArchiveTable(db: Kysely<any>, dialect: Dialect): Promise<void> {
  await db.schema
    .createTable(TABLES.archive)
    // The legacy id, so archived rows keep their identity; never generated.
    .addColumn('id', 'integer', (c) => (dialect === 'postgres' ? c.notNull() : c.primaryKey()))
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('channel', 'text', (c) => c.notNull())
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('credentials_encrypted', 'text')
    .addColumn('messaging_service_sid', 'text')
    .addColumn('webhook_url', 'text')
    .addColumn('webhook_secret_encrypted', 'text')
    .addColumn('is_verified', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('verification_error', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('legacy_iv', 'text')
    .addColumn('legacy_ciphertext', 'text')
    .addColumn('reason', 'text', (c) => c.notNull().check(sql`reason IN ('merged', 'superseded', 'orphaned', 'undecryptable')`))
    .addColumn('settings_id', 'integer')
    .addColumn('settings_created', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('archived_at', 'text', (c) => c.notNull())
    .execute()
}

/**
 * PostgreSQL: the archive's primary key, under the name PostgreSQL gives
 * one declared with the table. A duplicate id fails it, and the migration
 * with it.
 */
export async function addArchivePrimaryKey(db: Kysely<any>, dialect: Dialect): Promise<void> {
  if (dialect !== 'postgres') return
  await db.schema.alterTable(TABLES.archive).addPrimaryKeyConstraint(`${TABLES.archive}_pkey`, ['id']).execute()
}

export async function createStateTable(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable(TABLES.state)
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text')
    .execute()
}

export async function dropTable(db: Kysely<any>, table: string): Promise<void> {
  await db.schema.dropTable(table).execute()
}

function contractStatement(dialect: Dialect, table: string): string {
  const statements = dialect === 'sqlite' ? LEGACY_SQLITE_STATEMENTS : LEGACY_POSTGRES_STATEMENTS
  const statement = statements.find((text) => text.startsWith(`CREATE TABLE ${table} (`))
  if (!statement) throw new MigrationError(`The legacy contract has no CREATE TABLE ${table}.`, {code: 'CONTRACT_MISSING_TABLE'})
  return statement
}

/**
 * The CREATE TABLE text to restore a legacy table with. SQLite keeps that text
 * in sqlite_master, so `up` recorded it and `down` replays it byte for byte
 * (for a contract database it is the contract text); PostgreSQL uses the
 * contract statement.
 */
export function legacyCreateStatement(dialect: Dialect, table: string, recorded: string | null | undefined): string {
  if (dialect === 'sqlite' && recorded) {
    if (!new RegExp(`^CREATE TABLE "?${table}"?\\s*\\(`, 'i').test(recorded)) {
      throw new MigrationError(`The recorded definition of ${table} is not a CREATE TABLE ${table} statement.`, {
        code: 'CONSOLIDATION_STATE_INVALID',
        suggestions: [`Inspect ${TABLES.state}; it should hold the sqlite_master text of ${table} from before 0002.`],
      })
    }
    return recorded
  }
  return contractStatement(dialect, table)
}
