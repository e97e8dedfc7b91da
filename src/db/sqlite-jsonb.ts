/**
 * Rows for SQLite in its binary JSON format, JSONB (https://sqlite.org/jsonb.html,
 * stable since 3.45): bound as a BLOB, `jsonb_each(?)` walks it and
 * `value ->> n` reads a cell without parsing any text, where a JSON text
 * parameter is parsed once by `json_each` and each row's text again by
 * every `->>` (about three times the cost per page of rows).
 *
 * An element is a header and a payload. The header's first byte holds the
 * type in its low four bits and, in its high four, the payload size when it
 * is at most 11, or 12, 13 or 14 for a size in the next 1, 2 or 4 bytes
 * (big-endian). Payloads: INT, the integer's decimal text; TEXTRAW, the
 * string's UTF-8 bytes as they are (SQLite escapes them when it renders
 * JSON text); ARRAY, its elements one after the other; NULL, nothing.
 */

import {ByteBuilder} from './byte-builder.js'

const NULL = 0x0
const INT = 0x3
const TEXTRAW = 0xa
const ARRAY = 0xb

/** A cell JSONB carries here: a whole number, a string, or null. */
export type JsonbCell = number | string | null

function headerBytes(size: number): number {
  if (size <= 11) return 1
  if (size <= 0xff) return 2
  if (size <= 0xffff) return 3
  return 5
}

function writeHeader(bytes: ByteBuilder, type: number, size: number): void {
  if (size <= 11) return bytes.byte((size << 4) | type)
  if (size <= 0xff) {
    bytes.byte(0xc0 | type)
    return bytes.byte(size)
  }
  if (size <= 0xffff) {
    bytes.byte(0xd0 | type)
    bytes.byte(size >> 8)
    return bytes.byte(size & 0xff)
  }
  bytes.byte(0xe0 | type)
  bytes.int32(size)
}

/** The payload size of one cell; integers only (a fraction would need FLOAT, which nothing here writes). */
function cellPayload(cell: JsonbCell): number {
  if (cell === null) return 0
  if (typeof cell === 'number') {
    if (!Number.isSafeInteger(cell)) throw new RangeError('JSONB cells here are whole numbers, strings or null')
    return String(cell).length
  }
  return Buffer.byteLength(cell, 'utf8')
}

/**
 * A JSON array of arrays (rows of cells) as one JSONB value, built a row at
 * a time, for rows computed one by one (jsonbRows builds one from a list).
 */
export class JsonbRowsBuilder {
  /** The rows, each an ARRAY element; the outer header goes in front once their size is known. */
  private readonly body = new ByteBuilder()
  /** The payload size of each cell of the row being added, measured once for its header and its cell's. */
  private readonly payloads: number[] = []

  addRow(row: readonly JsonbCell[]): void {
    let size = 0
    for (let index = 0; index < row.length; index++) {
      const payload = cellPayload(row[index]!)
      this.payloads[index] = payload
      size += headerBytes(payload) + payload
    }
    this.header(ARRAY, size)
    for (let index = 0; index < row.length; index++) {
      const cell = row[index]!
      if (cell === null) {
        this.header(NULL, 0)
      } else if (typeof cell === 'number') {
        this.header(INT, this.payloads[index]!)
        this.body.text(String(cell), 'latin1')
      } else {
        this.header(TEXTRAW, this.payloads[index]!)
        this.body.text(cell)
      }
    }
  }

  /** The JSONB value, in a buffer of its own. */
  finish(): Uint8Array {
    const total = this.body.length
    // Sized exactly, so bytes() hands over this buffer without copying it again.
    const out = new ByteBuilder(headerBytes(total) + total)
    writeHeader(out, ARRAY, total)
    out.append(this.body.view())
    return out.bytes()
  }

  private header(type: number, size: number): void {
    writeHeader(this.body, type, size)
  }
}

/** A JSON array of arrays (rows of cells) as one JSONB value. */
export function jsonbRows(rows: readonly (readonly JsonbCell[])[]): Uint8Array {
  const builder = new JsonbRowsBuilder()
  for (const row of rows) builder.addRow(row)
  return builder.finish()
}
