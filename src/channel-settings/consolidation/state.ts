import {sql, type Kysely} from 'kysely'
import type {Dialect} from '../../db/database.js'
import {TABLES} from './types.js'

/* eslint-disable @typescript-eslint/no-explicit-any */

/**
 * Facts about the legacy schema that rows alone do not carry, kept by `up` so
 * `down` restores them exactly: SQLite's CREATE TABLE text and
 * sqlite_sequence values; PostgreSQL's identity sequence positions. A value of
 * null means "absent" (no sqlite_sequence row yet).
 */
export type ConsolidationState = Record<string, string | null>

export const stateKeys = {
  sql: (table: string) => `sqlite_master.sql:${table}`,
  sequence: (table: string) => `sequence:${table}`,
  sequenceAfterUp: (table: string) => `sequence_after_up:${table}`,
}

/** The sequence position of an AUTOINCREMENT / identity `id`, as an opaque string; null when none was ever taken. */
export async function readSequence(db: Kysely<any>, dialect: Dialect, table: string): Promise<string | null> {
  if (dialect === 'sqlite') {
    const {rows} = await sql<{seq: number}>`SELECT seq FROM sqlite_sequence WHERE name = ${table}`.execute(db)
    return rows[0] === undefined ? null : String(rows[0].seq)
  }
  const name = await postgresSequenceName(db, table)
  const {rows} = await sql<{last_value: string; is_called: boolean}>`SELECT last_value, is_called FROM ${sql.raw(name)}`.execute(db)
  const row = rows[0]!
  return JSON.stringify({lastValue: String(row.last_value), isCalled: row.is_called})
}

/** Sets the sequence back to a value readSequence returned. */
export async function writeSequence(db: Kysely<any>, dialect: Dialect, table: string, value: string | null): Promise<void> {
  if (dialect === 'sqlite') {
    await sql`DELETE FROM sqlite_sequence WHERE name = ${table}`.execute(db)
    if (value !== null) await sql`INSERT INTO sqlite_sequence (name, seq) VALUES (${table}, ${Number(value)})`.execute(db)
    return
  }
  if (value === null) return
  const {lastValue, isCalled} = JSON.parse(value) as {lastValue: string; isCalled: boolean}
  const name = await postgresSequenceName(db, table)
  await sql`SELECT setval(CAST(${name} AS regclass), CAST(${lastValue} AS bigint), ${isCalled})`.execute(db)
}

/** A sequence value that hands out ids after `maxId` (used when down adds rows past the recorded position). */
export function sequenceAtLeast(dialect: Dialect, value: string | null, maxId: number): string | null {
  if (dialect === 'sqlite') {
    if (value === null) return maxId > 0 ? String(maxId) : null
    return String(Math.max(Number(value), maxId))
  }
  if (value === null) return maxId > 0 ? JSON.stringify({lastValue: String(maxId), isCalled: true}) : null
  const parsed = JSON.parse(value) as {lastValue: string; isCalled: boolean}
  const used = parsed.isCalled ? Number(parsed.lastValue) : Number(parsed.lastValue) - 1
  return used >= maxId ? value : JSON.stringify({lastValue: String(maxId), isCalled: true})
}

/** The value a sequence position (readSequence) hands out next: 1 for a sequence never taken from. */
function nextSequenceValue(dialect: Dialect, position: string | null): bigint {
  if (position === null) return 1n
  if (dialect === 'sqlite') return BigInt(position) + 1n
  const {lastValue, isCalled} = JSON.parse(position) as {lastValue: string; isCalled: boolean}
  return isCalled ? BigInt(lastValue) + 1n : BigInt(lastValue)
}

/**
 * The id the table's next row gets when it is inserted without one: past its
 * sequence (SQLite: AUTOINCREMENT's sqlite_sequence) and past its largest id,
 * so ids handed out from here collide with none.
 */
export async function nextTableId(db: Kysely<any>, dialect: Dialect, table: string): Promise<number> {
  const next = Number(nextSequenceValue(dialect, await readSequence(db, dialect, table)))
  const {rows} = await sql<{max: number | string | null}>`SELECT MAX(id) AS max FROM ${sql.table(table)}`.execute(db)
  return Math.max(next, Number(rows[0]?.max ?? 0) + 1)
}

/**
 * After rows were inserted with ids from nextTableId: the sequence moves on
 * to the largest id, as if they had been taken from it, so the next row
 * inserted without an id does not collide. SQLite's AUTOINCREMENT does this
 * itself.
 */
export async function advanceSequenceToMaxId(db: Kysely<any>, dialect: Dialect, table: string): Promise<void> {
  if (dialect === 'sqlite') return
  const name = await postgresSequenceName(db, table)
  await sql`SELECT setval(CAST(${name} AS regclass), (SELECT MAX(id) FROM ${sql.table(table)}))`.execute(db)
}

/**
 * PostgreSQL sequences ignore ROLLBACK, so a dry run or a failed run that
 * inserts rows would leave the identity sequence moved. `ALTER ... RESTART`
 * gives the sequence new storage inside the transaction; every later
 * nextval/setval in it is then rolled back with it. Restores the exact
 * position afterwards. No-op on SQLite, where sqlite_sequence is an ordinary table.
 */
export async function makeSequenceTransactional(db: Kysely<any>, dialect: Dialect, table: string): Promise<void> {
  if (dialect === 'sqlite') return
  const position = await readSequence(db, dialect, table)
  const next = nextSequenceValue(dialect, position)
  await sql`ALTER TABLE ${sql.table(table)} ALTER COLUMN id RESTART WITH ${sql.raw(next.toString())}`.execute(db)
  await writeSequence(db, dialect, table, position)
}

async function postgresSequenceName(db: Kysely<any>, table: string): Promise<string> {
  const {rows} = await sql<{name: string}>`SELECT pg_get_serial_sequence(${table}, 'id') AS name`.execute(db)
  return rows[0]!.name
}

export async function readCreateSql(db: Kysely<any>, table: string): Promise<string | null> {
  const {rows} = await sql<{sql: string}>`SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ${table}`.execute(db)
  return rows[0]?.sql ?? null
}

/** What `up` records before it changes anything. */
export async function captureLegacyState(db: Kysely<any>, dialect: Dialect): Promise<ConsolidationState> {
  const state: ConsolidationState = {}
  for (const table of [TABLES.settings, TABLES.legacy]) {
    state[stateKeys.sequence(table)] = await readSequence(db, dialect, table)
    if (dialect === 'sqlite') state[stateKeys.sql(table)] = await readCreateSql(db, table)
  }
  return state
}

export async function saveState(db: Kysely<any>, state: ConsolidationState): Promise<void> {
  const rows = Object.entries(state).map(([name, value]) => ({name, value}))
  if (rows.length > 0) await db.insertInto(TABLES.state).values(rows).execute()
}

export async function loadState(db: Kysely<any>): Promise<ConsolidationState> {
  const rows = await db.selectFrom(TABLES.state).select(['name', 'value']).execute()
  return Object.fromEntries(rows.map((row) => [String(row.name), row.value === null ? null : String(row.value)]))
}
