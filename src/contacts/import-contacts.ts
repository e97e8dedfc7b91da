import {randomUUID} from 'node:crypto'
import {inWriteTransaction, type Database} from '../db/database.js'
import {UsageError} from '../errors/engage-error.js'
import {emailProblem, isE164} from '../messaging/recipients.js'
import {requireTenant} from '../tenants/tenant-repository.js'
import {parseCsv} from './csv.js'

/* eslint-disable @typescript-eslint/no-explicit-any */

export const CONTACT_COLUMNS = ['name', 'phone', 'email', 'opted_out'] as const
type ContactColumn = (typeof CONTACT_COLUMNS)[number]

/** How many row problems an error message lists before it says "and N more". */
export const MAX_LISTED_PROBLEMS = 20

const TRUE_VALUES = ['1', 'true', 'yes', 'y']
const FALSE_VALUES = ['0', 'false', 'no', 'n']
// Rows per multi-row INSERT: 7 parameters each stays far below both dialects' limits.
const INSERT_CHUNK = 500

export interface ContactsImportInput {
  /** Tenant slug or id. */
  tenant: string
  /** The CSV file's text. */
  csv: string
  /** Validate and count, write nothing. */
  dryRun?: boolean
  now?: string
}

export interface ContactsImportReport {
  tenantId: string
  tenantSlug: string
  rows: number
  created: number
  updated: number
  /** Rows identical to the stored contact. */
  unchanged: number
  /** Rows that said opted_out=false for a contact that had opted out: the opt-out was kept. */
  optOutsKept: number
  dryRun: boolean
}

export interface RowProblem {
  /** 1-based data row number (the header is row 0), as a spreadsheet shows it minus one. */
  row: number
  /** 1-based line of the file the row starts on. */
  line: number
  problem: string
}

interface ContactRow {
  row: number
  line: number
  name: string | null
  phone: string | null
  email: string | null
  /** undefined when the file has no opted_out column or leaves it blank. */
  optedOut: boolean | undefined
}

interface StoredContact {
  id: string
  name: string | null
  phone: string | null
  email: string | null
  opted_out: number | string
}

/**
 * Imports contacts from CSV text into one tenant, all or nothing. The header
 * names the columns (name, phone, email, opted_out; any order, any case);
 * every row is validated before anything is written: a phone must be E.164,
 * an email valid, each row needs a phone or an email, and no two rows may
 * name the same phone or email. Any problem refuses the whole file with a
 * UsageError listing the first {@link MAX_LISTED_PROBLEMS} problems by row.
 *
 * Rows are matched to existing contacts of the tenant by phone, then by
 * email (case-insensitive), and update them in place, so importing the same
 * file twice changes nothing. A blank cell keeps the stored value. An
 * opt-out is never cleared by an import: it records a person's request, and
 * only that person (or a deliberate operator action) may undo it. Everything
 * is written in one transaction.
 */
export async function importContacts(database: Database, input: ContactsImportInput): Promise<ContactsImportReport> {
  const rows = readContactRows(input.csv)
  const tenant = await requireTenant(database.db, input.tenant)
  const now = input.now ?? new Date().toISOString()

  const plan = async (db: any) => {
    const stored = (await db
      .selectFrom('contacts')
      .select(['id', 'name', 'phone', 'email', 'opted_out'])
      .where('tenant_id', '=', tenant.id)
      .execute()) as StoredContact[]
    return planUpserts(rows, stored)
  }

  const report: ContactsImportReport = {
    tenantId: tenant.id,
    tenantSlug: tenant.slug,
    rows: rows.length,
    created: 0,
    updated: 0,
    unchanged: 0,
    optOutsKept: 0,
    dryRun: input.dryRun ?? false,
  }
  const fill = (upserts: Upserts) => {
    report.created = upserts.inserts.length
    report.updated = upserts.updates.length
    report.unchanged = upserts.unchanged
    report.optOutsKept = upserts.optOutsKept
  }

  if (input.dryRun) {
    fill(await plan(database.db))
    return report
  }
  await inWriteTransaction(database, async (trx) => {
    // Planned inside the write transaction, so a concurrent import cannot slip a duplicate in between.
    const upserts = await plan(trx)
    for (let start = 0; start < upserts.inserts.length; start += INSERT_CHUNK) {
      const values = upserts.inserts.slice(start, start + INSERT_CHUNK).map((row) => ({
        id: randomUUID(),
        tenant_id: tenant.id,
        name: row.name,
        phone: row.phone,
        email: row.email,
        opted_out: row.optedOut ? 1 : 0,
        created_at: now,
      }))
      await trx.insertInto('contacts').values(values).execute()
    }
    for (const update of upserts.updates) {
      await trx.updateTable('contacts').set(update.set).where('id', '=', update.id).where('tenant_id', '=', tenant.id).execute()
    }
    fill(upserts)
  })
  return report
}

/** Parses and validates the CSV text; throws a UsageError listing every problem by row. */
export function readContactRows(csv: string): ContactRow[] {
  const records = parseCsv(csv)
  if (records.length === 0) {
    throw new UsageError('The CSV file is empty; it needs a header line and at least one contact.', {
      code: 'CONTACTS_CSV_EMPTY',
      suggestions: [`Start the file with a header such as: ${CONTACT_COLUMNS.join(',')}`],
    })
  }
  const [header, ...data] = records
  const columns = readHeader(header!.fields)
  if (data.length === 0) {
    throw new UsageError('The CSV file has a header but no contacts.', {code: 'CONTACTS_CSV_EMPTY', suggestions: ['Add one contact per line below the header.']})
  }

  const problems: RowProblem[] = []
  const rows: ContactRow[] = []
  const firstRowOfPhone = new Map<string, number>()
  const firstRowOfEmail = new Map<string, number>()
  data.forEach((record, index) => {
    const row = index + 1
    const problem = (text: string) => problems.push({row, line: record.line, problem: text})
    if (record.fields.length !== columns.length) {
      problem(`has ${record.fields.length} fields, the header has ${columns.length}`)
      return
    }
    const cell = (column: ContactColumn): string | null => {
      const at = columns.indexOf(column)
      if (at === -1) return null
      const value = record.fields[at]!.trim()
      return value === '' ? null : value
    }
    const name = cell('name')
    const phone = cell('phone')
    const email = cell('email')
    const optedOutText = cell('opted_out')
    let optedOut: boolean | undefined
    if (optedOutText !== null) {
      const lower = optedOutText.toLowerCase()
      if (TRUE_VALUES.includes(lower)) optedOut = true
      else if (FALSE_VALUES.includes(lower)) optedOut = false
      else problem(`opted_out "${optedOutText.slice(0, 20)}" is not one of ${[...TRUE_VALUES, ...FALSE_VALUES].join(', ')}`)
    }
    if (phone === null && email === null) problem('has neither a phone nor an email')
    // The address itself is not echoed: the row number finds it, and contact data stays out of logs.
    if (phone !== null && !isE164(phone)) problem('phone is not in E.164 format (+ then country code and number, up to 15 digits, e.g. +14155550100)')
    if (email !== null) {
      const reason = emailProblem(email)
      if (reason) problem(`email: ${reason}`)
    }
    if (phone !== null) {
      const first = firstRowOfPhone.get(phone)
      if (first !== undefined) problem(`repeats the phone of row ${first}`)
      else firstRowOfPhone.set(phone, row)
    }
    if (email !== null) {
      const key = email.toLowerCase()
      const first = firstRowOfEmail.get(key)
      if (first !== undefined) problem(`repeats the email of row ${first}`)
      else firstRowOfEmail.set(key, row)
    }
    rows.push({row, line: record.line, name, phone, email, optedOut})
  })
  if (problems.length > 0) throw invalidRows(problems, data.length)
  return rows
}

function readHeader(fields: string[]): ContactColumn[] {
  const names = fields.map((field) => field.trim().toLowerCase())
  const unknown = names.filter((name) => !(CONTACT_COLUMNS as readonly string[]).includes(name))
  if (unknown.length > 0) {
    throw new UsageError(`The CSV header has unknown column(s): ${unknown.map((name) => `"${name.slice(0, 40)}"`).join(', ')}.`, {
      code: 'CONTACTS_CSV_UNKNOWN_COLUMNS',
      suggestions: [`Use only ${CONTACT_COLUMNS.join(', ')} (any order); remove or rename the other columns.`],
      details: {unknown},
    })
  }
  const repeated = names.filter((name, index) => names.indexOf(name) !== index)
  if (repeated.length > 0) {
    throw new UsageError(`The CSV header names ${[...new Set(repeated)].join(', ')} more than once.`, {
      code: 'CONTACTS_CSV_DUPLICATE_COLUMNS',
      suggestions: ['Keep one column of each name.'],
    })
  }
  if (!names.includes('phone') && !names.includes('email')) {
    throw new UsageError('The CSV header has neither a phone nor an email column.', {
      code: 'CONTACTS_CSV_NO_ADDRESS_COLUMN',
      suggestions: [`Add a phone and/or email column; the header may name ${CONTACT_COLUMNS.join(', ')}.`],
    })
  }
  return names as ContactColumn[]
}

function invalidRows(problems: RowProblem[], rowCount: number): UsageError {
  const rowsWithProblems = new Set(problems.map((p) => p.row)).size
  const listed = problems.slice(0, MAX_LISTED_PROBLEMS).map((p) => `row ${p.row} (line ${p.line}): ${p.problem}`)
  const more = problems.length - listed.length
  return new UsageError(
    `${rowsWithProblems} of ${rowCount} rows are invalid; nothing was imported.\n  ${listed.join('\n  ')}${more > 0 ? `\n  … and ${more} more problem(s)` : ''}`,
    {
      code: 'CONTACTS_CSV_INVALID_ROWS',
      suggestions: ['Fix the rows listed and import the whole file again (row 1 is the first line after the header).'],
      details: {invalidRows: rowsWithProblems, problems: problems.slice(0, MAX_LISTED_PROBLEMS), moreProblems: Math.max(more, 0)},
    },
  )
}

interface Upserts {
  inserts: ContactRow[]
  updates: Array<{id: string; set: Record<string, string | number | null>}>
  unchanged: number
  optOutsKept: number
}

/** Matches each row to a stored contact (phone first, then email) and decides insert, update or nothing. */
function planUpserts(rows: ContactRow[], stored: StoredContact[]): Upserts {
  const byPhone = new Map<string, StoredContact>()
  const byEmail = new Map<string, StoredContact>()
  for (const contact of stored) {
    if (contact.phone) byPhone.set(contact.phone, contact)
    if (contact.email) byEmail.set(contact.email.toLowerCase(), contact)
  }
  const result: Upserts = {inserts: [], updates: [], unchanged: 0, optOutsKept: 0}
  const problems: RowProblem[] = []
  const claimed = new Map<string, number>()
  for (const row of rows) {
    const phoneMatch = row.phone === null ? undefined : byPhone.get(row.phone)
    const emailMatch = row.email === null ? undefined : byEmail.get(row.email.toLowerCase())
    if (phoneMatch && emailMatch && phoneMatch.id !== emailMatch.id) {
      problems.push({row: row.row, line: row.line, problem: 'its phone belongs to one stored contact and its email to another; merge them first'})
      continue
    }
    const match = phoneMatch ?? emailMatch
    if (!match) {
      result.inserts.push(row)
      continue
    }
    const earlier = claimed.get(match.id)
    if (earlier !== undefined) {
      problems.push({row: row.row, line: row.line, problem: `matches the same stored contact as row ${earlier}`})
      continue
    }
    claimed.set(match.id, row.row)
    const set: Record<string, string | number | null> = {}
    if (row.name !== null && row.name !== match.name) set.name = row.name
    if (row.phone !== null && row.phone !== match.phone) set.phone = row.phone
    if (row.email !== null && row.email !== match.email) set.email = row.email
    const wasOptedOut = Number(match.opted_out) === 1
    if (row.optedOut === true && !wasOptedOut) set.opted_out = 1
    if (row.optedOut === false && wasOptedOut) result.optOutsKept++
    if (Object.keys(set).length > 0) result.updates.push({id: match.id, set})
    else result.unchanged++
  }
  if (problems.length > 0) throw invalidRows(problems, rows.length)
  return result
}
