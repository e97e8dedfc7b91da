import {decryptField, type FieldContext} from '../../crypto/envelope.js'
import type {EncryptionKey} from '../../crypto/encryption-key.js'
import {
  archiveCredentialsContext,
  archiveWebhookContext,
  settingsCredentialsContext,
  settingsWebhookContext,
} from './contexts.js'
import type {VerifyProblem} from './check-stored.js'
import {secretHome, type RowEnvelopes} from './convert.js'
import type {RowDecision} from './types.js'

function tryDecrypt(key: EncryptionKey, envelope: string, context: FieldContext): Buffer | undefined {
  try {
    return decryptField(key, envelope, context)
  } catch {
    return undefined
  }
}

/**
 * The cryptographic half of the verification, run by the crypto worker right
 * after it encrypts a row, while the row's plaintext is at hand: each ev1
 * envelope computed for the legacy row decrypts, under the context of the
 * table and row it is written to, to the row's legacy plaintext
 * (credentials) and legacy webhook secret (NULL and '' kept apart); what is
 * wrong goes to `problems`. That the database stored exactly these
 * envelopes, in the planned rows, is checkStoredPage's to prove, from what
 * it reads back: together, what is stored decrypts to what the legacy rows
 * held.
 */
export function checkRowEnvelopes(key: EncryptionKey, decision: RowDecision, written: RowEnvelopes, problems: VerifyProblem[]): void {
  const {row} = decision.decrypted
  const merged = decision.reason === 'merged'
  const secret = row.webhook_secret
  const {credentials} = written
  if (!decision.decrypted.ok) {
    if (credentials !== null) problems.push({id: row.id, problem: 'undecryptable row has new credentials'})
  } else {
    const context = merged ? settingsCredentialsContext(row.tenant_id, row.channel) : archiveCredentialsContext(row.id, row.tenant_id, row.channel)
    const plaintext = credentials === null ? undefined : tryDecrypt(key, credentials, context)
    if (!plaintext || !plaintext.equals(decision.decrypted.plaintext)) {
      problems.push({id: row.id, problem: 'new credentials do not decrypt to the legacy plaintext'})
    }
  }
  const envelope = written.secret
  const context = secretHome(decision.reason, secret) === 'settings' ? settingsWebhookContext(row.tenant_id, row.channel) : archiveWebhookContext(row.id, row.tenant_id, row.channel)
  const roundTrips = envelope === null ? secret === null : tryDecrypt(key, envelope, context)?.toString('utf8') === secret
  if (!roundTrips) problems.push({id: row.id, problem: 'webhook secret does not round-trip'})
}
