import type BetterSqlite3 from 'better-sqlite3'
import type {SqliteReader} from './schema-discovery.js'
import {quoteIdentifier, quoteList} from './sql-names.js'
import type {TablePlan} from './types.js'

const ROWID = '__engage_rowid'

/** One batch read from the source, ready to send: rows as a JSON array of objects, and the key to resume after. */
export interface SourceBatch {
  json: string
  rows: number
  lastKey: unknown[]
}

/**
 * Reads a SQLite table in key order, one batch after another (keyset
 * pagination: `WHERE key > last ORDER BY key LIMIT n`), so any batch can be
 * the first one of a resumed run. Blobs become PostgreSQL bytea hex text.
 */
export class SqliteBatchReader {
  private readonly first: BetterSqlite3.Statement
  private readonly next: BetterSqlite3.Statement
  private readonly keyColumns: string[]
  private readonly hidesRowid: boolean

  constructor(
    sqlite: SqliteReader,
    private readonly plan: TablePlan,
    private readonly batchSize: number,
  ) {
    this.hidesRowid = plan.sourceKey === 'rowid'
    this.keyColumns = plan.sourceKey === 'rowid' ? [ROWID] : plan.sourceKey
    const keyRefs = plan.sourceKey === 'rowid' ? ['rowid'] : plan.sourceKey.map(quoteIdentifier)
    const select = `SELECT ${quoteList(plan.columns)}${this.hidesRowid ? `, rowid AS ${ROWID}` : ''} FROM ${quoteIdentifier(plan.table)}`
    const order = `ORDER BY ${keyRefs.join(', ')} LIMIT ?`
    const after =
      keyRefs.length === 1 ? `${keyRefs[0]} > ?` : `(${keyRefs.join(', ')}) > (${keyRefs.map(() => '?').join(', ')})`
    this.first = sqlite.prepare(`${select} ${order}`)
    this.next = sqlite.prepare(`${select} WHERE ${after} ${order}`)
  }

  /** The batch after `lastKey` (from the start when null); `rows: 0` at the end of the table. */
  read(lastKey: readonly unknown[] | null): SourceBatch {
    const rows = (
      lastKey === null ? this.first.all(this.batchSize) : this.next.all(...lastKey, this.batchSize)
    ) as Record<string, unknown>[]
    if (rows.length === 0) return {json: '[]', rows: 0, lastKey: lastKey ? [...lastKey] : []}
    const last = rows[rows.length - 1]!
    const key = this.keyColumns.map((column) => last[column])
    for (const row of rows) {
      for (const column of this.plan.columns) {
        const value = row[column]
        if (typeof value === 'object' && value !== null && Buffer.isBuffer(value)) row[column] = `\\x${value.toString('hex')}`
        else if (typeof value === 'bigint') row[column] = value.toString()
      }
      if (this.hidesRowid) delete row[ROWID]
    }
    return {json: JSON.stringify(rows), rows: rows.length, lastKey: key}
  }
}
