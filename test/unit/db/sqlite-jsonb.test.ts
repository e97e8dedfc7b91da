import BetterSqlite3 from 'better-sqlite3'
import {afterAll, describe, expect, it} from 'vitest'
import {jsonbRows, type JsonbCell} from '../../../src/db/sqlite-jsonb.js'

/** SQLite itself reads the JSONB back: the only reader that matters. */
describe('SQLite JSONB rows', () => {
  const sqlite = new BetterSqlite3(':memory:')
  afterAll(() => sqlite.close())

  const asJson = (rows: JsonbCell[][]) => JSON.parse((sqlite.prepare('SELECT json(?) AS j').get(jsonbRows(rows)) as {j: string}).j) as unknown
  const text = (bytes: number) => 'é'.repeat(Math.floor(bytes / 2)) + 'x'.repeat(bytes % 2)

  it('renders back exactly what was written: every header size, unicode, escapes, empty strings and NULLs', () => {
    const rows: JsonbCell[][] = [
      [1, 'merged', null, 0, '', 'Zoë 日本 🚀', `quote ' double " back \\ tab \t newline \n unit \u001f`],
      [-2147483648, text(11), text(12), text(255), text(256), text(65535), text(65536)],
      [Number.MAX_SAFE_INTEGER, null, null],
      [],
    ]
    expect(asJson(rows)).toEqual(rows)
  })

  it('gives an empty array for no rows', () => {
    expect(asJson([])).toEqual([])
  })

  it('is read cell by cell with jsonb_each and ->>, with SQL types', () => {
    const read = sqlite.prepare('SELECT value ->> 0 AS id, value ->> 1 AS name, value ->> 2 AS missing, typeof(value ->> 0) AS type FROM jsonb_each(?)')
    expect(read.all(jsonbRows([[7, 'a', null], [-1, 'b"c', null]]))).toEqual([
      {id: 7, name: 'a', missing: null, type: 'integer'},
      {id: -1, name: 'b"c', missing: null, type: 'integer'},
    ])
  })

  it('refuses a number it cannot write exactly rather than rounding it', () => {
    expect(() => jsonbRows([[1.5]])).toThrow(RangeError)
    expect(() => jsonbRows([[2 ** 60]])).toThrow(RangeError)
  })
})
