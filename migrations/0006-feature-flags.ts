/**
 * 0006: run-time feature flags, first of them USE_AWS_QUEUE (src/cutover/).
 *
 * - `feature_flags`: one row per (name, scope); scope is 'global' or a
 *   tenant id. `value` is text so later flags need no schema change
 *   ('true' / 'false' for the boolean ones). Who, when and why of the last
 *   change sit on the row for `engage cutover status`.
 * - `feature_flag_audit`: append-only, one row per change, including a
 *   tenant override being cleared (new_value NULL). Nothing in engage
 *   updates or deletes its rows.
 *
 * `down` refuses while any flag is on. Dropping an "on" USE_AWS_QUEUE would
 * move every new send back to the local queue with no audit entry and no
 * operator having decided it; `engage cutover --rollback` is the way back,
 * and records why. With every flag off, dropping the tables changes no
 * behaviour (off is the default), so it goes ahead; the audit rows it drops
 * are counted in the report, because an operator reverting the schema has
 * chosen to give up that history.
 */
import {sql, type Kysely} from 'kysely'
import {MigrationError} from '../src/errors/engage-error.js'
import type {Dialect} from '../src/db/database.js'
import {countRows} from '../src/migrate/schema-inspect.js'
import type {MigrationContext, MigrationReport} from '../src/migrate/types.js'

/* eslint-disable @typescript-eslint/no-explicit-any */

const FLAGS = 'feature_flags'
const AUDIT = 'feature_flag_audit'

export async function up({db, dialect}: MigrationContext): Promise<MigrationReport> {
  await db.schema
    .createTable(FLAGS)
    .addColumn('name', 'text', (column) => column.notNull())
    .addColumn('scope', 'text', (column) => column.notNull())
    .addColumn('value', 'text', (column) => column.notNull())
    .addColumn('updated_at', 'text', (column) => column.notNull())
    .addColumn('updated_by', 'text', (column) => column.notNull())
    .addColumn('reason', 'text')
    .addPrimaryKeyConstraint('feature_flags_pkey', ['name', 'scope'])
    .execute()

  await idColumn(db, dialect)
    .addColumn('name', 'text', (column) => column.notNull())
    .addColumn('scope', 'text', (column) => column.notNull())
    .addColumn('old_value', 'text')
    .addColumn('new_value', 'text')
    .addColumn('reason', 'text')
    .addColumn('changed_by', 'text', (column) => column.notNull())
    .addColumn('changed_at', 'text', (column) => column.notNull())
    .execute()
  // `cutover status` reads the latest entries of one flag.
  await db.schema.createIndex('idx_feature_flag_audit_name').on(AUDIT).columns(['name', 'id']).execute()
  return {tables: [FLAGS, AUDIT]}
}

export async function down({db}: MigrationContext): Promise<MigrationReport> {
  const {rows} = await sql<{name: string; scope: string}>`SELECT name, scope FROM ${sql.table(FLAGS)} WHERE value = 'true' ORDER BY name, scope`.execute(db)
  if (rows.length > 0) {
    throw new MigrationError(
      `${rows.length} feature flag(s) are on (${rows.slice(0, 5).map((row) => `${row.name}@${row.scope}`).join(', ')}); reverting 0006 would switch them off with no audit entry.`,
      {
        code: 'FEATURE_FLAGS_ON',
        details: {on: rows},
        suggestions: ['Turn them off first with the command that records why (`engage cutover --rollback --reason "…"`), then revert again.'],
      },
    )
  }
  const auditRows = await countRows(db, AUDIT)
  await sql`DROP TABLE ${sql.table(AUDIT)}`.execute(db)
  await sql`DROP TABLE ${sql.table(FLAGS)}`.execute(db)
  return {dropped: [AUDIT, FLAGS], auditRowsDropped: auditRows}
}

function idColumn(db: Kysely<any>, dialect: Dialect) {
  const table = db.schema.createTable(AUDIT)
  return dialect === 'postgres'
    ? table.addColumn('id', 'bigserial', (column) => column.primaryKey())
    : table.addColumn('id', 'integer', (column) => column.primaryKey().autoIncrement())
}
