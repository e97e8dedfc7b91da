import {decryptLegacy} from '../../crypto/legacy-cbc.js'
import type {EncryptionKey} from '../../crypto/encryption-key.js'
import {EncryptionError, MigrationError} from '../../errors/engage-error.js'
import {rebuildsFromIv} from './legacy-bytes.js'
import type {DecryptedRow, LoadedLegacyRow} from './types.js'

const REQUIRED_FIELDS: Record<string, readonly string[]> = {
  twilio: ['accountSid', 'authToken'],
  ses: ['accessKeyId', 'secretAccessKey', 'region'],
}

const utf8 = new TextDecoder('utf-8', {fatal: true})

/**
 * Checks a decrypted legacy plaintext is what the backend writes: UTF-8 JSON
 * with the provider's string fields. CBC under a wrong key yields garbage with
 * valid padding about one time in 256, so padding alone proves nothing.
 * Returns the parsed object, or a problem description without any of the value.
 */
export function parseLegacyPlaintext(
  provider: string,
  plaintext: Buffer,
): {credentials: Record<string, string>} | {problem: string} {
  const required = REQUIRED_FIELDS[provider]
  if (!required) return {problem: `unknown provider "${provider}"`}
  let text: string
  try {
    text = utf8.decode(plaintext)
  } catch {
    return {problem: 'decrypts to bytes that are not UTF-8'}
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return {problem: 'decrypts to text that is not JSON'}
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return {problem: 'decrypts to JSON that is not an object'}
  const record = parsed as Record<string, unknown>
  const missing = required.filter((field) => typeof record[field] !== 'string' || record[field] === '')
  if (missing.length > 0) return {problem: `decrypts to JSON without ${missing.join(', ')}`}
  return {credentials: record as Record<string, string>}
}

/** The non-secret part of the credentials, kept readable for commands that only show configuration. */
export function providerConfig(provider: string, credentials: Record<string, string>): Record<string, string> {
  if (provider === 'twilio') return {accountSid: credentials.accountSid!}
  const config: Record<string, string> = {region: credentials.region!}
  if (credentials.accessKeyId) config.accessKeyId = credentials.accessKeyId
  return config
}

/** Decrypts one legacy row's value (`stored`) and checks its shape; never throws for a bad row. */
export function decryptLegacyRow(key: EncryptionKey, row: LoadedLegacyRow, stored: string): DecryptedRow {
  let plaintext: Buffer
  try {
    plaintext = decryptLegacy(key.key, stored)
  } catch (error) {
    const code = (error as EncryptionError).code
    return {row, ok: false, problem: code === 'LEGACY_MALFORMED' ? 'is not "<iv>:<ciphertext>" hex' : 'does not decrypt (bad padding)'}
  }
  const parsed = parseLegacyPlaintext(row.provider, plaintext)
  if ('problem' in parsed) return {row, ok: false, problem: parsed.problem}
  // What is kept of the value: the plaintext, whether its IV rebuilds it, and the non-secret config
  // (computed for every row, as which row is merged is decided later; a parsed object per row would
  // cost more to keep).
  return {row, ok: true, plaintext, keptAsIv: rebuildsFromIv(stored), config: JSON.stringify(providerConfig(row.provider, parsed.credentials))}
}

/** A legacy row that does not decrypt to valid credentials, and why (never any of its value). */
export interface DecryptFailure {
  id: number
  problem: string
}

function idList(ids: number[], limit = 20): string {
  const shown = ids.slice(0, limit).join(', ')
  return ids.length > limit ? `${shown} and ${ids.length - limit} more` : shown
}

/**
 * Refuses the migration when legacy rows do not decrypt. All of them failing
 * points at the wrong ENCRYPTION_KEY (refused even with archiveUndecryptable:
 * archiving every credential would be the wrong fix); some failing points at
 * damaged rows, which the operator may archive verbatim with the flag.
 */
export function assertDecryptable(failed: readonly DecryptFailure[], total: number, key: EncryptionKey, archiveUndecryptable: boolean): void {
  if (failed.length === 0) return
  const ids = failed.map((entry) => entry.id)
  const problems = [...new Set(failed.map((entry) => entry.problem))]
  if (failed.length === total) {
    throw new EncryptionError(
      `None of the ${total} legacy credential rows decrypts with ENCRYPTION_KEY (key id ${key.id}); it is probably not the key the backend used. Rows: ${idList(ids)}.`,
      {
        code: 'LEGACY_KEY_MISMATCH',
        suggestions: [
          'Set ENCRYPTION_KEY to the backend\'s key (the one its tenant_channel_credentials_v2 rows were written with) and re-run.',
          'Nothing was changed.',
        ],
        details: {rowIds: ids, keyId: key.id, problems},
      },
    )
  }
  if (archiveUndecryptable) return
  throw new MigrationError(
    `${failed.length} of ${total} legacy credential rows do not decrypt to valid credentials (tenant_channel_credentials_v2 ids ${idList(ids)}); they are probably corrupt. Nothing was changed.`,
    {
      code: 'LEGACY_ROWS_UNDECRYPTABLE',
      suggestions: [
        'Re-run with --archive-undecryptable to keep those rows verbatim in tenant_channel_credentials_archive (reason "undecryptable") and migrate the rest.',
        'Or repair / delete those rows in tenant_channel_credentials_v2 first.',
      ],
      details: {rowIds: ids, problems},
    },
  )
}
