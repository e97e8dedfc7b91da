/**
 * 0004: the tables of the local message queue (src/queue/local/), the
 * durable stand-in for SQS that `engage worker` polls.
 *
 * - `local_queue_messages`: one row per message in a queue. `visible_at`
 *   (epoch ms) hides a delayed or in-flight message; `receipt_handle` is the
 *   handle of the latest receive, so older handles stop working.
 * - `local_queue_dead_letters`: the same columns plus when and why a message
 *   left the queue (after maxReceiveCount receives, as an SQS redrive policy).
 *
 * Epoch milliseconds do not fit PostgreSQL's 32-bit INTEGER, hence BIGINT
 * there; the queue converts what pg returns (strings) to numbers itself.
 * The DDL is spelled out here, not imported, so the checksum of this file
 * covers the schema it creates.
 *
 * `down` drops both tables only while they are empty: a pending message is a
 * send that has not happened yet and a dead letter is a failure still to be
 * looked at; neither may vanish with a schema revert. Drain the queue
 * (`engage worker`) or delete the rows deliberately first.
 */
import {sql, type Kysely} from 'kysely'
import {MigrationError} from '../src/errors/engage-error.js'
import type {Dialect} from '../src/db/database.js'
import {countRows} from '../src/migrate/schema-inspect.js'
import type {MigrationContext, MigrationReport} from '../src/migrate/types.js'

/* eslint-disable @typescript-eslint/no-explicit-any */

const MESSAGES = 'local_queue_messages'
const DEAD_LETTERS = 'local_queue_dead_letters'

export async function up({db, dialect}: MigrationContext): Promise<MigrationReport> {
  await messageColumns(db.schema.createTable(MESSAGES), dialect).execute()
  // Receivers scan a queue's visible messages oldest first: WHERE queue_name = ? AND visible_at <= now ORDER BY visible_at, sent_at.
  await db.schema.createIndex('idx_local_queue_messages_visible').on(MESSAGES).columns(['queue_name', 'visible_at', 'sent_at']).execute()

  const epoch = epochType(dialect)
  await messageColumns(db.schema.createTable(DEAD_LETTERS), dialect)
    .addColumn('dead_lettered_at', epoch, (column) => column.notNull())
    .addColumn('reason', 'text', (column) => column.notNull())
    .execute()
  await db.schema.createIndex('idx_local_queue_dead_letters_queue').on(DEAD_LETTERS).columns(['queue_name', 'dead_lettered_at']).execute()
  return {tables: [MESSAGES, DEAD_LETTERS]}
}

export async function down({db}: MigrationContext): Promise<MigrationReport> {
  const messages = await countRows(db, MESSAGES)
  const deadLetters = await countRows(db, DEAD_LETTERS)
  if (messages > 0 || deadLetters > 0) {
    throw new MigrationError(
      `The local queue still holds ${messages} message(s) and ${deadLetters} dead letter(s); reverting 0004 would delete them.`,
      {
        code: 'LOCAL_QUEUE_NOT_EMPTY',
        details: {messages, deadLetters},
        suggestions: [
          'Let `engage worker` drain the queue, and redrive or inspect the dead letters first.',
          `To discard them on purpose, delete the rows of ${MESSAGES} and ${DEAD_LETTERS}, then revert again.`,
        ],
      },
    )
  }
  await sql`DROP TABLE ${sql.table(DEAD_LETTERS)}`.execute(db)
  await sql`DROP TABLE ${sql.table(MESSAGES)}`.execute(db)
  return {dropped: [DEAD_LETTERS, MESSAGES]}
}

function epochType(dialect: Dialect): 'bigint' | 'integer' {
  return dialect === 'postgres' ? 'bigint' : 'integer'
}

function messageColumns(table: ReturnType<Kysely<any>['schema']['createTable']>, dialect: Dialect) {
  const epoch = epochType(dialect)
  return table
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('queue_name', 'text', (column) => column.notNull())
    .addColumn('body', 'text', (column) => column.notNull())
    .addColumn('attributes_json', 'text', (column) => column.notNull().defaultTo('{}'))
    .addColumn('md5_of_body', 'text')
    .addColumn('sent_at', epoch, (column) => column.notNull())
    .addColumn('visible_at', epoch, (column) => column.notNull())
    .addColumn('receive_count', 'integer', (column) => column.notNull().defaultTo(0))
    .addColumn('first_received_at', epoch)
    .addColumn('receipt_handle', 'text')
}
