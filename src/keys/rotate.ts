import type {Keyring} from '../crypto/encryption-key.js'
import type {EncryptedColumn} from '../crypto/encrypted-columns.js'
import {decryptField, encryptField} from '../crypto/envelope.js'
import {inWriteTransaction, type Database} from '../db/database.js'
import {EncryptionError, UsageError} from '../errors/engage-error.js'
import type {KeyFailure} from './check.js'
import {describeColumn, presentEncryptedColumns, readEncryptedPage} from './encrypted-values.js'

export interface RotationProgress {
  table: string
  column: string
  /** Values re-encrypted in this column so far. */
  reencrypted: number
  /** Values of this column still under another key when the column started. */
  pending: number
  batch: number
  lastId: number
}

export interface RotateOptions {
  /** Values per write transaction. */
  batchSize?: number
  onProgress?: (progress: RotationProgress) => void
}

export interface ColumnRotation {
  table: string
  column: string
  /** Non-NULL values in the column. */
  values: number
  alreadyCurrent: number
  reencrypted: number
  /** Values changed by another writer between our read and our write (left as that writer wrote them). */
  changedConcurrently: number
  failed: number
}

export interface RotateReport {
  currentKeyId: string
  previousKeyIds: string[]
  batchSize: number
  batches: number
  reencrypted: number
  alreadyCurrent: number
  failed: number
  columns: ColumnRotation[]
  failures: KeyFailure[]
  skipped: Array<{table: string; column: string}>
}

/**
 * Re-encrypts every registered encrypted value that is not under the current
 * key (ENCRYPTION_KEY), reading it with the keyring (ENCRYPTION_KEY_PREVIOUS).
 * Each batch is one short write transaction: a value is replaced only if it
 * is still the one read (compare-and-set), and the batch is read back inside
 * the transaction and decrypted with the current key alone before it commits,
 * so a mis-encrypted batch rolls back instead of landing. Between batches
 * every row is readable with the keyring, old or new. A killed run loses at
 * most the open batch; re-running picks up whatever is still under an old key.
 * Values that do not decrypt are left untouched and listed in `failures`.
 */
export async function rotateKeys(database: Database, keyring: Keyring, options: RotateOptions = {}): Promise<RotateReport> {
  const batchSize = options.batchSize ?? 200
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new UsageError('--batch-size must be a positive integer.', {code: 'INVALID_BATCH_SIZE'})
  }
  const current = keyring.current
  const {present, missing} = await presentEncryptedColumns(database.db)
  const report: RotateReport = {
    currentKeyId: current.id,
    previousKeyIds: keyring.previous.map((key) => key.id),
    batchSize,
    batches: 0,
    reencrypted: 0,
    alreadyCurrent: 0,
    failed: 0,
    columns: [],
    failures: [],
    skipped: missing.map((entry) => ({table: entry.table, column: entry.column})),
  }

  const counts = await Promise.all(present.map((entry) => countColumn(database, entry, current.id)))
  const pendingTotal = counts.reduce((sum, count) => sum + count.pending, 0)
  if (pendingTotal > 0 && keyring.previous.length === 0) {
    throw new UsageError(`${pendingTotal} encrypted values are not under the current key, and ENCRYPTION_KEY_PREVIOUS is not set.`, {
      code: 'PREVIOUS_KEY_MISSING',
      suggestions: ['Set ENCRYPTION_KEY to the new key and ENCRYPTION_KEY_PREVIOUS to the old one, then re-run `engage keys rotate`.'],
    })
  }

  for (const [index, entry] of present.entries()) {
    const {values, pending} = counts[index]!
    const column: ColumnRotation = {
      table: entry.table,
      column: entry.column,
      values,
      alreadyCurrent: values - pending,
      reencrypted: 0,
      changedConcurrently: 0,
      failed: 0,
    }
    let afterId: number | null = null
    for (let batch = 1; ; batch++) {
      const page = await readEncryptedPage(database.db, entry, {afterId, limit: batchSize, excludeKeyId: current.id})
      if (page.length === 0) break
      afterId = page[page.length - 1]!.id
      const replacements: Array<{id: number; old: string; next: string; plaintext: Buffer; row: (typeof page)[number]}> = []
      for (const row of page) {
        try {
          const plaintext = decryptField(keyring, row.value, entry.context(row))
          replacements.push({id: row.id, old: row.value, next: encryptField(current, plaintext, entry.context(row)), plaintext, row})
        } catch (error) {
          column.failed += 1
          report.failures.push({table: entry.table, column: entry.column, id: row.id, code: error instanceof EncryptionError ? error.code : 'DECRYPT_FAILED'})
        }
      }
      if (replacements.length > 0) {
        const written = await inWriteTransaction(database, async (trx) => {
          let updated = 0
          const landed: typeof replacements = []
          for (const replacement of replacements) {
            const result = await trx
              .updateTable(entry.table)
              .set({[entry.column]: replacement.next})
              .where(entry.idColumn, '=', replacement.id)
              .where(entry.column, '=', replacement.old)
              .executeTakeFirst()
            if (Number(result.numUpdatedRows) === 1) {
              updated += 1
              landed.push(replacement)
            }
          }
          await verifyBatch(trx, entry, landed, current)
          return updated
        })
        column.reencrypted += written
        column.changedConcurrently += replacements.length - written
        report.batches += 1
      }
      options.onProgress?.({table: entry.table, column: entry.column, reencrypted: column.reencrypted, pending, batch, lastId: afterId})
    }
    report.reencrypted += column.reencrypted
    report.alreadyCurrent += column.alreadyCurrent
    report.failed += column.failed
    report.columns.push(column)
  }
  return report
}

async function countColumn(database: Database, entry: EncryptedColumn, currentKeyId: string): Promise<{values: number; pending: number}> {
  const row = await database.db
    .selectFrom(entry.table)
    .select((eb) => [
      eb.fn.count<string | number>(entry.column).as('values'),
      eb.fn
        .count<string | number>(eb.case().when(entry.column, 'not like', `ev1.${currentKeyId}.%`).then(1).end())
        .as('pending'),
    ])
    .executeTakeFirstOrThrow()
  return {values: Number(row.values), pending: Number(row.pending)}
}

/** Reads the batch back in its own transaction and decrypts it with the new key only; any mismatch aborts the batch. */
async function verifyBatch(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  trx: import('kysely').Kysely<any>,
  entry: EncryptedColumn,
  landed: Array<{id: number; plaintext: Buffer; row: {id: number; tenant_id: string; channel: string}}>,
  current: Keyring['current'],
): Promise<void> {
  if (landed.length === 0) return
  const stored = await trx
    .selectFrom(entry.table)
    .select([`${entry.idColumn} as id`, `${entry.column} as value`])
    .where(
      entry.idColumn,
      'in',
      landed.map((replacement) => replacement.id),
    )
    .execute()
  const byId = new Map(stored.map((row) => [Number(row.id), row.value as string | null]))
  for (const replacement of landed) {
    const value = byId.get(replacement.id)
    let matches = false
    try {
      matches = value != null && decryptField(current, value, entry.context(replacement.row)).equals(replacement.plaintext)
    } catch {
      matches = false
    }
    if (!matches) {
      throw new EncryptionError(`Verification of the re-encrypted ${describeColumn(entry)} of row ${replacement.id} failed; the batch was rolled back.`, {
        code: 'ROTATION_VERIFY_FAILED',
        details: {table: entry.table, column: entry.column, id: replacement.id},
      })
    }
  }
}

/** The EncryptionError `keys rotate` exits with when some values could not be rotated. */
export function rotationIncomplete(report: RotateReport): EncryptionError {
  const shown = report.failures.slice(0, 20).map((failure) => `${failure.table}#${failure.id} ${failure.column} (${failure.code})`)
  const more = report.failures.length > shown.length ? `, and ${report.failures.length - shown.length} more` : ''
  return new EncryptionError(
    `Rotated ${report.reencrypted} values, but ${report.failed} do not decrypt with the configured keys and were left as they are: ${shown.join('; ')}${more}.`,
    {
      code: 'ROTATION_INCOMPLETE',
      suggestions: ['Find the key those values were written with (`engage keys check` shows key ids), set it in ENCRYPTION_KEY_PREVIOUS and re-run, or re-seed those settings.'],
      details: {report},
    },
  )
}
