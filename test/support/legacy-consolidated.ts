import {createHash} from 'node:crypto'
import {sql} from 'kysely'
import {parseEncryptionKey} from '../../src/crypto/encryption-key.js'
import {decryptField} from '../../src/crypto/envelope.js'
import type {Database} from '../../src/db/database.js'
import {ENCRYPTED_COLUMNS} from '../../src/crypto/encrypted-columns.js'

const digest = (value: Buffer | string) => createHash('sha256').update(value).digest('hex')

/**
 * The consolidated tables with every ev1 envelope replaced by a digest of
 * what it decrypts to (envelopes differ run to run: random IVs) and
 * archived_at dropped. Two runs that did the same thing give equal snapshots.
 */
export async function snapshotConsolidated(database: Database, encryptionKey: string): Promise<Record<string, unknown>> {
  const key = parseEncryptionKey(encryptionKey)
  const out: Record<string, unknown> = {}
  for (const table of ['tenant_channel_settings', 'tenant_channel_credentials_archive']) {
    const rows = await database.db.selectFrom(table).selectAll().orderBy('id').execute()
    out[table] = rows.map((row) => {
      const copy: Record<string, unknown> = {...row}
      delete copy.archived_at
      for (const column of ENCRYPTED_COLUMNS.filter((entry) => entry.table === table)) {
        const value = row[column.column] as string | null
        if (value !== null) {
          copy[column.column] = `decrypts-to:${digest(decryptField(key, value, column.context(row as {id: number; tenant_id: string; channel: string})))}`
        }
      }
      return copy
    })
  }
  out.legacyTablePresent = database.dialect === 'sqlite'
    ? (await sql`SELECT name FROM sqlite_master WHERE name = 'tenant_channel_credentials_v2'`.execute(database.db)).rows.length > 0
    : (await sql`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'tenant_channel_credentials_v2'`.execute(database.db)).rows.length > 0
  return out
}
