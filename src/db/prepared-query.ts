import type BetterSqlite3 from 'better-sqlite3'
import type {Compilable, CompiledQuery, Kysely, RawBuilder} from 'kysely'

/* eslint-disable @typescript-eslint/no-explicit-any */

/** What a prepared query gave back. */
export interface QueryOutcome<Row> {
  /** The rows of a SELECT, or of a write's RETURNING. */
  rows: Row[]
  /** How many rows a write without RETURNING changed (read `rows` for one with it). */
  changes: number
}

/** A named parameter of a prepared query, standing in for its value while Kysely compiles. */
class Slot {
  constructor(readonly name: string) {}
}

interface Compiled {
  template: CompiledQuery
  /** Per compiled parameter: the name of the value to take from the call's params, or the constant Kysely compiled. */
  slots: Array<{name: string} | {value: unknown}>
}

/**
 * A typed Kysely query compiled once per dialect and run again with new
 * parameters. Hot paths (the Twilio status webhook, applyStatus) run the
 * same few statements thousands of times a second; building and compiling
 * them with Kysely on every call cost more than running them. The builder
 * receives `param(name)` for each value that varies; everything else is
 * compiled as written.
 *
 * `execute` runs through a Kysely (either dialect, the pool or the caller's
 * transaction). `executeSync` runs on a better-sqlite3 handle directly, with
 * the statement prepared once per handle: the synchronous path lets a SQLite
 * write transaction run start to end in one tick (see runWriteSteps).
 */
export class PreparedQuery<Params extends Record<string, unknown>, Row = Record<string, unknown>> {
  private readonly byDialect = new Map<unknown, Compiled>()
  private readonly statements = new WeakMap<BetterSqlite3.Database, {statement: BetterSqlite3.Statement; slots: Compiled['slots']}>()

  constructor(private readonly build: (db: Kysely<any>, param: <K extends keyof Params & string>(name: K) => Params[K]) => Compilable<unknown> | RawBuilder<unknown>) {}

  async execute(db: Kysely<any>, params: Params): Promise<QueryOutcome<Row>> {
    const {template, slots} = this.compiledFor(db)
    const query: CompiledQuery = {query: template.query, queryId: template.queryId, sql: template.sql, parameters: bind(slots, params)}
    const result = await db.executeQuery(query)
    return {rows: result.rows as Row[], changes: Number(result.numAffectedRows ?? 0)}
  }

  /** SQLite only: runs on `handle` now. `db` is the Kysely over that handle (it compiles the SQL, once). */
  executeSync(db: Kysely<any>, handle: BetterSqlite3.Database, params: Params): QueryOutcome<Row> {
    let prepared = this.statements.get(handle)
    if (prepared === undefined) {
      const {template, slots} = this.compiledFor(db)
      prepared = {statement: handle.prepare(template.sql), slots}
      this.statements.set(handle, prepared)
    }
    const {statement, slots} = prepared
    if (statement.reader) return {rows: statement.all(...bind(slots, params)) as Row[], changes: 0}
    return {rows: [], changes: statement.run(...bind(slots, params)).changes}
  }

  private compiledFor(db: Kysely<any>): Compiled {
    // One compilation per dialect: the adapter's class tells SQLite's `?` from PostgreSQL's `$1` (and survives minification).
    const dialect = db.getExecutor().adapter.constructor
    let compiled = this.byDialect.get(dialect)
    if (compiled === undefined) {
      const built = this.build(db, (name) => new Slot(name) as never)
      // A sql`` template compiles against the Kysely given; a query builder ignores the argument.
      const template = (built as RawBuilder<unknown>).compile(db)
      const slots = template.parameters.map((value) => (value instanceof Slot ? {name: value.name} : {value}))
      compiled = {template, slots}
      this.byDialect.set(dialect, compiled)
    }
    return compiled
  }
}

function bind(slots: Compiled['slots'], params: Record<string, unknown>): unknown[] {
  const values = new Array<unknown>(slots.length)
  for (let i = 0; i < slots.length; i++) {
    const slot = slots[i]!
    values[i] = 'name' in slot ? params[slot.name] : slot.value
  }
  return values
}
