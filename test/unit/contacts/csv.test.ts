import {describe, expect, it} from 'vitest'
import {parseCsv} from '../../../src/contacts/csv.js'
import {UsageError} from '../../../src/errors/engage-error.js'

const fields = (text: string) => parseCsv(text).map((record) => record.fields)

describe('parseCsv', () => {
  it('splits plain fields and lines, LF or CRLF, and skips the trailing newline', () => {
    expect(fields('a,b\n1,2\n')).toEqual([['a', 'b'], ['1', '2']])
    expect(fields('a,b\r\n1,2\r\n')).toEqual([['a', 'b'], ['1', '2']])
  })

  it('keeps commas, line breaks and doubled quotes inside quoted fields', () => {
    const records = parseCsv('name,note\r\n"Doe, Jane","said ""hi""\r\nthen left"\r\nBob,x\r\n')
    expect(records.map((r) => r.fields)).toEqual([['name', 'note'], ['Doe, Jane', 'said "hi"\r\nthen left'], ['Bob', 'x']])
    // The row after a two-line field starts on line 4 of the file.
    expect(records.map((r) => r.line)).toEqual([1, 2, 4])
  })

  it('drops a UTF-8 byte order mark', () => {
    expect(fields('\uFEFFphone\n+14155550100')).toEqual([['phone'], ['+14155550100']])
  })

  it('keeps empty fields and skips empty lines', () => {
    expect(fields('a,,c\n\n,\n""\n')).toEqual([['a', '', 'c'], ['', ''], ['']])
  })

  it.each([
    ['an unterminated quote', 'a\n"open,1\n', /Line 2: a quoted field is never closed/],
    ['text after a closing quote', '"a"b,c\n', /Line 1: text after a closing quote/],
    ['a quote inside an unquoted field', 'ab"c\n', /Line 1: a quote inside an unquoted field/],
  ])('refuses %s, naming the line', (_name, text, message) => {
    let error: unknown
    try {
      parseCsv(text)
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(UsageError)
    expect((error as UsageError).code).toBe('CSV_MALFORMED')
    expect((error as UsageError).message).toMatch(message)
  })
})
