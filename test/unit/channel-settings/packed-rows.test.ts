import {describe, expect, it} from 'vitest'
import {packRows, unpackRows} from '../../../src/channel-settings/consolidation/packed-rows.js'
import {rowsOf} from '../../../src/channel-settings/consolidation/types.js'

interface Row {
  id: number
  name: string | null
  note: string | null
}

const FIELDS = ['id', 'name', 'note'] as const

describe('rows packed for a crypto worker', () => {
  it('unpacks exactly the rows packed: NULL apart from empty text, unicode, separators, digits as text', () => {
    const rows: Row[] = [
      {id: -7, name: '', note: null},
      {id: 0, name: 'Zoë 日本 🚀', note: 'semi;colon, comma\ttab\nline \u0001\u001f "quote" \'single\''},
      {id: 2147483647, name: '123', note: 'n'},
      {id: 3, name: null, note: 's'},
    ]
    const packed = packRows(rows, FIELDS)

    expect(packed.count).toBe(4)
    expect([...unpackRows<Row>(packed, [...FIELDS])]).toEqual(rows)
    expect([...rowsOf<Row>(packed, [...FIELDS])]).toEqual(rows)
  })

  it('unpacks a long page and an empty one', () => {
    const rows: Row[] = Array.from({length: 5000}, (_, index) => ({id: index + 1, name: `tenant-${index}`, note: 'x'.repeat(index % 300)}))

    expect([...unpackRows<Row>(packRows(rows, FIELDS), [...FIELDS])]).toEqual(rows)
    expect([...unpackRows<Row>(packRows([], FIELDS), [...FIELDS])]).toEqual([])
  })

  it('refuses a value holding the end mark, or one that is neither text, a number nor NULL, rather than shifting rows', () => {
    expect(() => packRows([{id: 1, name: 'a\0b', note: null}], FIELDS)).toThrow(/name holds NUL/)
    expect(() => packRows([{id: 1, name: {}, note: null}], FIELDS)).toThrow(/name is neither/)
  })

  it('refuses a page that ends inside a row', () => {
    const packed = packRows([{id: 1, name: 'a', note: 'b'}], FIELDS)
    expect(() => [...unpackRows<Row>({packed: packed.packed, count: 2}, [...FIELDS])]).toThrow(/ends inside a row/)
  })
})
