import {createCipheriv, createDecipheriv, randomFillSync} from 'node:crypto'
import {EncryptionError} from '../errors/engage-error.js'
import type {EncryptionKey, Keyring} from './encryption-key.js'

/**
 * What a ciphertext is bound to. The associated data makes a value copied to
 * another tenant, channel or field fail to decrypt.
 */
export interface FieldContext {
  tenantId: string
  channel: string
  field: string
}

const VERSION = 'ev1'
const IV_BYTES = 12
const TAG_BYTES = 16

function associatedData(context: FieldContext): Buffer {
  // Unit separators keep ("a b", "c") and ("a", "b c") distinct.
  return Buffer.from(`${VERSION}\u001f${context.tenantId}\u001f${context.channel}\u001f${context.field}`, 'utf8')
}

// IVs are cut from a pool refilled from the CSPRNG: one getrandom call per
// 4096 values instead of one per value (a third of an encryption's cost).
// Every IV is handed out exactly once.
const IV_POOL_VALUES = 4096
const ivPool = Buffer.alloc(IV_BYTES * IV_POOL_VALUES)
let ivOffset = ivPool.length

function nextIv(): Buffer {
  if (ivOffset === ivPool.length) {
    randomFillSync(ivPool)
    ivOffset = 0
  }
  const iv = ivPool.subarray(ivOffset, ivOffset + IV_BYTES)
  ivOffset += IV_BYTES
  return iv
}

/**
 * AES-256-GCM with a random 96-bit IV per value. The envelope is
 * `ev1.<key id>.<iv>.<ciphertext>.<tag>`, each part base64url.
 */
export function encryptField(key: EncryptionKey, plaintext: string | Buffer, context: FieldContext): string {
  const iv = nextIv()
  const cipher = createCipheriv('aes-256-gcm', key.key, iv, {authTagLength: TAG_BYTES})
  cipher.setAAD(associatedData(context))
  // GCM is a stream mode: final() emits nothing, so update()'s output is the whole ciphertext.
  const body = cipher.update(typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext)
  cipher.final()
  const tag = cipher.getAuthTag()
  return `${VERSION}.${key.id}.${iv.toString('base64url')}.${body.toString('base64url')}.${tag.toString('base64url')}`
}

export interface ParsedEnvelope {
  keyId: string
  iv: Buffer
  body: Buffer
  tag: Buffer
}

export function parseEnvelope(envelope: string): ParsedEnvelope {
  const parts = envelope.split('.')
  if (parts.length !== 5 || parts[0] !== VERSION) {
    throw new EncryptionError('The value is not an engage ev1 envelope.', {
      code: 'ENVELOPE_MALFORMED',
      suggestions: ['The stored value was damaged or written by something else; re-seed the credential.'],
    })
  }
  const [, keyId, iv, body, tag] = parts as [string, string, string, string, string]
  const parsed = {keyId, iv: Buffer.from(iv, 'base64url'), body: Buffer.from(body, 'base64url'), tag: Buffer.from(tag, 'base64url')}
  if (parsed.iv.length !== IV_BYTES || parsed.tag.length !== TAG_BYTES) {
    throw new EncryptionError('The envelope has a wrong IV or tag length.', {code: 'ENVELOPE_MALFORMED'})
  }
  return parsed
}

/** The key id an envelope was written with, without decrypting it. */
export function envelopeKeyId(envelope: string): string {
  return parseEnvelope(envelope).keyId
}

/** Decrypts and authenticates; a wrong key, a tampered byte or another row's context all throw. */
export function decryptField(keys: Keyring | EncryptionKey, envelope: string, context: FieldContext): Buffer {
  const parsed = parseEnvelope(envelope)
  const key = 'find' in keys ? keys.find(parsed.keyId) : keys.id === parsed.keyId ? keys : undefined
  if (!key) {
    throw new EncryptionError(`The value was encrypted with key ${parsed.keyId}, which is not configured.`, {
      code: 'ENCRYPTION_KEY_UNKNOWN',
      suggestions: ['Set ENCRYPTION_KEY (or ENCRYPTION_KEY_PREVIOUS during a rotation) to the key with that id.'],
      details: {keyId: parsed.keyId},
    })
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', key.key, parsed.iv, {authTagLength: TAG_BYTES})
    decipher.setAAD(associatedData(context))
    decipher.setAuthTag(parsed.tag)
    const plaintext = decipher.update(parsed.body)
    // final() checks the tag (and emits nothing in GCM); only then is the plaintext returned.
    decipher.final()
    return plaintext
  } catch (error) {
    throw new EncryptionError(
      `A value for tenant ${context.tenantId} / ${context.channel} / ${context.field} failed authentication.`,
      {
        code: 'DECRYPT_FAILED',
        cause: error,
        suggestions: ['The ciphertext was altered or copied from another row; re-seed the credential.'],
      },
    )
  }
}

/** decryptField, parsed as the UTF-8 JSON object the credentials are stored as. */
export function decryptJson<T>(keys: Keyring | EncryptionKey, envelope: string, context: FieldContext): T {
  return JSON.parse(decryptField(keys, envelope, context).toString('utf8')) as T
}
