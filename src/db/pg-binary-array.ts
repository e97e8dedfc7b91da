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

import {ByteBuilder} from './byte-builder.js'

const INT4_OID = 23
const TEXT_OID = 25
const HEADER_BYTES = 20

/**
 * One array parameter built a value at a time, for a column whose values are
 * computed row by row (int4Array and textArray build one from a list).
 */
export class BinaryArrayBuilder {
  private readonly bytes = new ByteBuilder()
  private count = 0
  private hasNulls = false

  constructor(private readonly element: 'int4' | 'text') {
    // The header, written by finish() once the count is known.
    for (let at = 0; at < HEADER_BYTES; at += 4) this.bytes.int32(0)
  }

  /** Appends an int4 (a whole number in int4's range), or NULL. */
  addInteger(value: number | null): void {
    if (this.element !== 'int4') throw new RangeError('addInteger is for integer[] arrays')
    this.count++
    if (value === null) return this.addNull()
    if (!Number.isInteger(value) || value < -2147483648 || value > 2147483647) throw new RangeError('integer[] arrays take whole numbers in int4 range')
    this.bytes.int32(4)
    this.bytes.int32(value)
  }

  /** Appends a text (written as UTF-8), or NULL. */
  addText(value: string | null): void {
    if (this.element !== 'text') throw new RangeError('addText is for text[] arrays')
    this.count++
    if (value === null) return this.addNull()
    const lengthAt = this.bytes.length
    this.bytes.int32(0)
    this.bytes.int32At(lengthAt, this.bytes.text(value))
  }

  /** The array parameter, in a buffer of its own. */
  finish(): Uint8Array {
    this.bytes.int32At(0, 1)
    this.bytes.int32At(4, this.hasNulls ? 1 : 0)
    this.bytes.int32At(8, this.element === 'int4' ? INT4_OID : TEXT_OID)
    this.bytes.int32At(12, this.count)
    this.bytes.int32At(16, 1)
    return this.bytes.bytes()
  }

  private addNull(): void {
    this.hasNulls = true
    this.bytes.int32(-1)
  }
}

/** An `integer[]` (int4) parameter; each value must be a whole number in int4's range, or null. */
export function int4Array(values: readonly (number | null)[]): Uint8Array {
  const array = new BinaryArrayBuilder('int4')
  for (const value of values) array.addInteger(value)
  return array.finish()
}

/** A `text[]` parameter; strings are written as UTF-8. */
export function textArray(values: readonly (string | null)[]): Uint8Array {
  const array = new BinaryArrayBuilder('text')
  for (const value of values) array.addText(value)
  return array.finish()
}
