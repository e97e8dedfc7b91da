import {createHash, type Hash} from 'node:crypto'

/**
 * One value as text, the same whichever database and driver produced it:
 * SQLite's 0/1 and PostgreSQL's integer, a pg BIGINT string and a SQLite
 * number, a Buffer and a bytea all meet in one spelling. NULL stays null, so
 * it never equals the text 'null'.
 */
export function canonicalValue(value: unknown): string | null {
  if (value === null || value === undefined) return null
  switch (typeof value) {
    case 'string':
      return value
    case 'number':
    case 'bigint':
      return String(value)
    case 'boolean':
      return value ? '1' : '0'
  }
  if (Buffer.isBuffer(value)) return `\\x${value.toString('hex')}`
  if (value instanceof Date) return value.toISOString()
  return JSON.stringify(value)
}

/** One row as one line of canonical JSON (an array of canonical values, in plan column order). */
export function canonicalRow(values: readonly unknown[]): string {
  return JSON.stringify(values.map(canonicalValue))
}

const FLUSH_CHARACTERS = 1 << 20

/**
 * Streams rows, in key order, into SHA-256. Rows are buffered into ~1 MB
 * strings before hashing: one native call per chunk instead of one per row,
 * and never more than a chunk in memory.
 */
export class RowHasher {
  private readonly hash: Hash = createHash('sha256')
  private pending = ''
  rows = 0

  add(values: readonly unknown[]): void {
    this.pending += canonicalRow(values) + '\n'
    this.rows += 1
    if (this.pending.length >= FLUSH_CHARACTERS) this.flush()
  }

  digest(): {rows: number; checksum: string} {
    this.flush()
    return {rows: this.rows, checksum: this.hash.digest('hex')}
  }

  private flush(): void {
    if (this.pending) this.hash.update(this.pending, 'utf8')
    this.pending = ''
  }
}
