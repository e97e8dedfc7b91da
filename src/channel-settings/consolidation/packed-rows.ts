import {MigrationError} from '../../errors/engage-error.js'

/**
 * A page of PostgreSQL rows packed into one string for a crypto worker,
 * which unpacks them one at a time (unpackRows) as it converts them.
 *
 * Why not the row objects: a message's objects are all created when the
 * worker receives it, live until the last row of the page is converted,
 * and so are copied by every young-generation collection on the way and
 * promoted to the old generation; a page of them was most of what the
 * workers' collections copied. One string is one object (large enough to
 * live outside the young generation), and a row unpacked from it dies with
 * its conversion.
 *
 * Each value is a tag and its text, ended by NUL: `s` and a string, `i` and
 * a number, `n` for NULL. PostgreSQL text cannot hold NUL, so no value
 * contains the end mark (packRows checks, so a value that did is an error,
 * not a shifted row).
 */
export interface PackedRows {
  packed: string
  count: number
}

const END = '\0'
const STRING = 's'
const NUMBER = 'i'
const NULL = 'n'
const STRING_CODE = STRING.charCodeAt(0)
const NUMBER_CODE = NUMBER.charCodeAt(0)

function packingError(message: string): MigrationError {
  return new MigrationError(`A page of legacy rows could not be packed for a crypto worker: ${message}.`, {code: 'CONSOLIDATION_INTERNAL'})
}

/** `rows`' `fields`, in order, as one PackedRows; values are strings, numbers or null. */
export function packRows(rows: readonly object[], fields: readonly string[]): PackedRows {
  let packed = ''
  for (const row of rows) {
    for (const field of fields) {
      const value = (row as Record<string, unknown>)[field]
      if (value === null || value === undefined) packed += NULL + END
      else if (typeof value === 'number') packed += NUMBER + value + END
      else if (typeof value === 'string') {
        if (value.includes(END)) throw packingError(`a ${field} holds NUL`)
        packed += STRING + value + END
      } else throw packingError(`${field} is neither text, a number nor NULL`)
    }
  }
  return {packed, count: rows.length}
}

/** The rows of a PackedRows, one object of `fields` at a time, in the order packed. */
export function* unpackRows<T>(page: PackedRows, fields: readonly (keyof T & string)[]): Generator<T> {
  const {packed} = page
  let at = 0
  for (let row = 0; row < page.count; row++) {
    const values: Record<string, unknown> = {}
    for (const field of fields) {
      const end = packed.indexOf(END, at)
      if (end < 0) throw packingError('the page ends inside a row')
      const tag = packed.charCodeAt(at)
      values[field] = tag === STRING_CODE ? packed.slice(at + 1, end) : tag === NUMBER_CODE ? Number(packed.slice(at + 1, end)) : null
      at = end + 1
    }
    yield values as T
  }
}
