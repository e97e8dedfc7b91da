import {UsageError} from '../errors/engage-error.js'

/**
 * A CSV record with the 1-based line of the file it starts on, so errors can
 * point at what the operator sees in an editor (a quoted field with line
 * breaks spans several lines).
 */
export interface CsvRecord {
  line: number
  fields: string[]
}

/**
 * Parses RFC 4180 CSV: comma-separated fields, double-quoted fields that may
 * hold commas, line breaks and doubled quotes (`""`), CRLF or LF line ends, a
 * UTF-8 byte order mark at the start (spreadsheets write one). Lines that are
 * entirely empty are skipped: a trailing newline or a blank line at the end
 * is not a record. A quote inside an unquoted field, text after a closing
 * quote, or a quote left open at the end of the file is an error naming the
 * line, because guessing would import a mangled phone number.
 */
export function parseCsv(text: string): CsvRecord[] {
  const input = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
  const records: CsvRecord[] = []
  let fields: string[] = []
  let field = ''
  let line = 1
  let recordLine = 1
  let quoted = false
  let fieldStarted = false // a field was begun on this record (distinguishes an empty line from one empty field)
  let afterQuote = false // just closed a quoted field: only a separator or line end may follow

  const endField = () => {
    fields.push(field)
    field = ''
    afterQuote = false
  }
  const endRecord = () => {
    if (fieldStarted || fields.length > 0) {
      endField()
      records.push({line: recordLine, fields})
    }
    fields = []
    field = ''
    fieldStarted = false
    afterQuote = false
  }

  for (let i = 0; i < input.length; i++) {
    const char = input[i]!
    if (quoted) {
      if (char === '"') {
        if (input[i + 1] === '"') {
          field += '"'
          i++
        } else {
          quoted = false
          afterQuote = true
        }
      } else {
        if (char === '\n') line++
        field += char
      }
      continue
    }
    if (char === ',') {
      fieldStarted = true
      endField()
    } else if (char === '\n' || char === '\r') {
      if (char === '\r' && input[i + 1] === '\n') i++
      endRecord()
      line++
      recordLine = line
    } else if (afterQuote) {
      throw csvError(`Line ${line}: text after a closing quote; a quoted field must end right before a comma or the line end.`)
    } else if (char === '"') {
      if (field.length > 0) throw csvError(`Line ${line}: a quote inside an unquoted field; quote the whole field and double the inner quotes ("").`)
      quoted = true
      fieldStarted = true
    } else {
      field += char
      fieldStarted = true
    }
  }
  if (quoted) throw csvError(`Line ${recordLine}: a quoted field is never closed before the end of the file.`)
  endRecord()
  return records
}

function csvError(message: string): UsageError {
  return new UsageError(`The CSV file is malformed. ${message}`, {
    code: 'CSV_MALFORMED',
    suggestions: ['Save the file as CSV (comma-separated, UTF-8) from the spreadsheet, or fix the line named above.'],
  })
}
