import pg from 'pg'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {int4Array, textArray} from '../../src/db/pg-binary-array.js'
import {POSTGRES_ADMIN_URL} from '../support/databases.js'

/** The arrays go to a real server, which parses them with array_recv: the only reader that matters. */
describe('PostgreSQL binary array parameters', () => {
  const client = new pg.Client({connectionString: POSTGRES_ADMIN_URL})
  beforeAll(() => client.connect())
  afterAll(() => client.end())

  const roundTrip = async <T>(type: string, array: Uint8Array): Promise<T[]> => {
    const {rows} = await client.query<{value: T}>(`SELECT value FROM unnest(CAST($1 AS ${type}[])) WITH ORDINALITY AS u(value, n) ORDER BY n`, [array])
    return rows.map((row) => row.value)
  }

  it('reads back every text value as written: empty, NULL, unicode, quotes, separators and a long one', async () => {
    const values = ['', null, 'plain', 'Zoë 日本 🚀', `quote ' double " back \\ comma , brace {}`, '\u001f\t\n', 'x'.repeat(100_000), null]
    expect(await roundTrip<string | null>('text', textArray(values))).toEqual(values)
  })

  it('reads back integers across int4, NULLs included', async () => {
    const values = [0, 1, -1, 2147483647, -2147483648, null, 42]
    expect(await roundTrip<number | null>('integer', int4Array(values))).toEqual(values)
  })

  it('gives an empty array for no values', async () => {
    expect(await roundTrip('text', textArray([]))).toEqual([])
    expect(await roundTrip('integer', int4Array([]))).toEqual([])
  })

  it('unnests several columns side by side into rows', async () => {
    const {rows} = await client.query(`SELECT * FROM unnest(CAST($1 AS integer[]), CAST($2 AS text[])) AS u(id, name)`, [int4Array([1, 2]), textArray(['a', null])])
    expect(rows).toEqual([
      {id: 1, name: 'a'},
      {id: 2, name: null},
    ])
  })

  it('refuses a number int4 cannot hold rather than wrapping it', () => {
    expect(() => int4Array([2147483648])).toThrow(RangeError)
    expect(() => int4Array([1.5])).toThrow(RangeError)
  })
})
