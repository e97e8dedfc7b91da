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

function writeHeader(buffer: Buffer, at: number, type: number, size: number): number {
  if (size <= 11) {
    buffer[at] = (size << 4) | type
    return at + 1
  }
  if (size <= 0xff) {
    buffer[at] = 0xc0 | type
    buffer[at + 1] = size
    return at + 2
  }
  if (size <= 0xffff) {
    buffer[at] = 0xd0 | type
    return buffer.writeUInt16BE(size, at + 1)
  }
  buffer[at] = 0xe0 | type
  return buffer.writeUInt32BE(size, at + 1)
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

/** A JSON array of arrays (rows of cells) as one JSONB value. */
export function jsonbRows(rows: readonly (readonly JsonbCell[])[]): Uint8Array {
  const rowSizes = new Array<number>(rows.length)
  let total = 0
  for (let index = 0; index < rows.length; index++) {
    let size = 0
    for (const cell of rows[index]!) {
      const payload = cellPayload(cell)
      size += headerBytes(payload) + payload
    }
    rowSizes[index] = size
    total += headerBytes(size) + size
  }
  const buffer = Buffer.allocUnsafeSlow(headerBytes(total) + total)
  let at = writeHeader(buffer, 0, ARRAY, total)
  for (let index = 0; index < rows.length; index++) {
    at = writeHeader(buffer, at, ARRAY, rowSizes[index]!)
    for (const cell of rows[index]!) {
      if (cell === null) {
        at = writeHeader(buffer, at, NULL, 0)
      } else if (typeof cell === 'number') {
        const digits = String(cell)
        at = writeHeader(buffer, at, INT, digits.length)
        at += buffer.write(digits, at, 'latin1')
      } else {
        at = writeHeader(buffer, at, TEXTRAW, Buffer.byteLength(cell, 'utf8'))
        at += buffer.write(cell, at, 'utf8')
      }
    }
  }
  return buffer
}
