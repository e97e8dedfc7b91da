import type {Keyring} from '../crypto/encryption-key.js'
import {decryptField, parseEnvelope} from '../crypto/envelope.js'
import type {Database} from '../db/database.js'
import {EncryptionError} from '../errors/engage-error.js'
import {presentEncryptedColumns, readEncryptedPage} from './encrypted-values.js'

/** A value that did not decrypt: where it is and why, never what it holds. */
export interface KeyFailure {
  table: string
  column: string
  id: number
  code: string
  keyId?: string
}

export interface ColumnKeyCount {
  table: string
  column: string
  values: number
  byKey: Record<string, number>
  failed: number
}

export interface KeyCheckReport {
  currentKeyId: string
  previousKeyIds: string[]
  total: number
  /** Values per key id across all columns. */
  byKey: Record<string, number>
  /** Values still under a previous key: `keys rotate` moves them. */
  notCurrent: number
  columns: ColumnKeyCount[]
  failures: KeyFailure[]
  /** Registered columns this database does not have (not migrated yet). */
  skipped: Array<{table: string; column: string}>
}

/**
 * Decrypts every value of every registered encrypted column with the
 * configured keys (authenticating it against its row's context) and counts
 * them per key id. Reads only. Failures are collected, not thrown: the caller
 * decides the exit code, and sees every failing row at once.
 */
export async function checkKeys(database: Database, keyring: Keyring, options: {batchSize?: number} = {}): Promise<KeyCheckReport> {
  const batchSize = options.batchSize ?? 500
  const {present, missing} = await presentEncryptedColumns(database.db)
  const report: KeyCheckReport = {
    currentKeyId: keyring.current.id,
    previousKeyIds: keyring.previous.map((key) => key.id),
    total: 0,
    byKey: {},
    notCurrent: 0,
    columns: [],
    failures: [],
    skipped: missing.map((entry) => ({table: entry.table, column: entry.column})),
  }
  for (const entry of present) {
    const counts: ColumnKeyCount = {table: entry.table, column: entry.column, values: 0, byKey: {}, failed: 0}
    let afterId: number | null = null
    for (;;) {
      const page = await readEncryptedPage(database.db, entry, {afterId, limit: batchSize})
      if (page.length === 0) break
      afterId = page[page.length - 1]!.id
      for (const row of page) {
        counts.values += 1
        let keyId: string | undefined
        try {
          keyId = parseEnvelope(row.value).keyId
          decryptField(keyring, row.value, entry.context(row))
          counts.byKey[keyId] = (counts.byKey[keyId] ?? 0) + 1
          report.byKey[keyId] = (report.byKey[keyId] ?? 0) + 1
          if (keyId !== keyring.current.id) report.notCurrent += 1
        } catch (error) {
          counts.failed += 1
          const failure: KeyFailure = {table: entry.table, column: entry.column, id: row.id, code: error instanceof EncryptionError ? error.code : 'DECRYPT_FAILED'}
          if (keyId !== undefined) failure.keyId = keyId
          report.failures.push(failure)
        }
      }
    }
    report.total += counts.values
    report.columns.push(counts)
  }
  return report
}

/** The EncryptionError `keys check` exits with when some values fail, naming each by table, column and id. */
export function keyCheckFailed(report: KeyCheckReport): EncryptionError {
  const shown = report.failures.slice(0, 20).map((failure) => `${failure.table}#${failure.id} ${failure.column} (${failure.code}${failure.keyId ? `, key ${failure.keyId}` : ''})`)
  const more = report.failures.length > shown.length ? `, and ${report.failures.length - shown.length} more` : ''
  return new EncryptionError(`${report.failures.length} of ${report.total} encrypted values do not decrypt with the configured keys: ${shown.join('; ')}${more}.`, {
    code: 'KEY_CHECK_FAILED',
    suggestions: [
      'If these were written with an older key, set it in ENCRYPTION_KEY_PREVIOUS and run `engage keys rotate`.',
      'A value that fails authentication with the right key was altered or copied between rows: re-seed that setting.',
    ],
    details: {report},
  })
}
