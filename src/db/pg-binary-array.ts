/**
 * One-dimensional PostgreSQL arrays in the binary format `array_recv` reads
 * (the one `array_send` writes): a parameter bound as a Buffer or Uint8Array
 * goes to the server as binary, so `CAST($1 AS integer[])` takes a whole
 * column of values with no text to escape or parse on either side. Bulk
 * writes bind one such array per column and `unnest` them back into rows.
 *
 * Layout: dimensions (1), has-nulls flag, element type OID, then the one
 * dimension's length and lower bound (1); then per element its byte length
 * (-1 for NULL) and its bytes in the type's binary form (int4: 4 bytes
 * big-endian; text: the UTF-8 bytes).
 */

const INT4_OID = 23
const TEXT_OID = 25
const HEADER_BYTES = 20

function writeHeader(buffer: Buffer, length: number, hasNulls: boolean, elementOid: number): void {
  buffer.writeInt32BE(1, 0)
  buffer.writeInt32BE(hasNulls ? 1 : 0, 4)
  buffer.writeInt32BE(elementOid, 8)
  buffer.writeInt32BE(length, 12)
  buffer.writeInt32BE(1, 16)
}

/** An `integer[]` (int4) parameter; each value must be a whole number in int4's range, or null. */
export function int4Array(values: readonly (number | null)[]): Uint8Array {
  let nulls = 0
  for (const value of values) {
    if (value === null) nulls++
    else if (!Number.isInteger(value) || value < -2147483648 || value > 2147483647) throw new RangeError('int4Array takes whole numbers in int4 range')
  }
  const buffer = Buffer.allocUnsafeSlow(HEADER_BYTES + values.length * 8 - nulls * 4)
  writeHeader(buffer, values.length, nulls > 0, INT4_OID)
  let at = HEADER_BYTES
  for (const value of values) {
    if (value === null) {
      at = buffer.writeInt32BE(-1, at)
    } else {
      at = buffer.writeInt32BE(4, at)
      at = buffer.writeInt32BE(value, at)
    }
  }
  return buffer
}

/** A `text[]` parameter; strings are written as UTF-8. */
export function textArray(values: readonly (string | null)[]): Uint8Array {
  let size = HEADER_BYTES
  let hasNulls = false
  for (const value of values) {
    size += 4
    if (value === null) hasNulls = true
    else size += Buffer.byteLength(value, 'utf8')
  }
  const buffer = Buffer.allocUnsafeSlow(size)
  writeHeader(buffer, values.length, hasNulls, TEXT_OID)
  let at = HEADER_BYTES
  for (const value of values) {
    if (value === null) {
      at = buffer.writeInt32BE(-1, at)
    } else {
      const bytes = buffer.write(value, at + 4, 'utf8')
      buffer.writeInt32BE(bytes, at)
      at += 4 + bytes
    }
  }
  return buffer
}
