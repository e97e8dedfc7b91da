import {randomBytes} from 'node:crypto'
import {ProviderError, UsageError} from '../errors/engage-error.js'
import {generateWebhookSecret, parseWebhookSecret, signWebhook} from '../webhooks/standard-webhooks.js'
import {probe} from './http-probe.js'
import type {DoctorCheck} from './types.js'

/** The body of the ping: not a `message.status`, so a receiver verifies it and then ignores or refuses it, never broadcasts it. */
export const BACKEND_PING_TYPE = 'engage.ping'

/**
 * BACKEND_STATUS_WEBHOOK_URL with two pings of type `engage.ping`: one signed
 * with a throwaway secret must be refused with 401 (the receiver checks
 * signatures); one signed with BACKEND_STATUS_WEBHOOK_SECRET must get past
 * the signature: any 2xx, or 400 (engage serve answers PAYLOAD_INVALID
 * because a ping is not a status). 401/403 mean the secrets differ; 404 the
 * wrong path; 5xx a broken receiver.
 */
export async function checkBackendWebhook(get: (name: string) => string | undefined): Promise<DoctorCheck> {
  const name = 'Backend status webhook answers a signed ping'
  const url = get('BACKEND_STATUS_WEBHOOK_URL')?.trim()
  const secret = get('BACKEND_STATUS_WEBHOOK_SECRET')?.trim()
  if (!url) return {name, ok: false, detail: 'BACKEND_STATUS_WEBHOOK_URL is not set: statuses are not forwarded to the backend.', fix: 'Set BACKEND_STATUS_WEBHOOK_URL to the backend endpoint (locally engage serve: http://127.0.0.1:8787/internal/message-status).', failsAs: UsageError}
  if (!secret) return {name, ok: false, detail: 'BACKEND_STATUS_WEBHOOK_SECRET is not set.', fix: 'Set BACKEND_STATUS_WEBHOOK_SECRET to the whsec_… secret the backend verifies with.', failsAs: UsageError}
  try {
    parseWebhookSecret(secret)
  } catch {
    return {name, ok: false, detail: 'BACKEND_STATUS_WEBHOOK_SECRET is not a whsec_… secret.', fix: 'Use the whsec_ + base64 secret the backend was given.', failsAs: UsageError}
  }
  const ping = (key: string) => {
    const body = JSON.stringify({type: BACKEND_PING_TYPE, data: {at: new Date().toISOString()}})
    const headers = signWebhook({id: `ping_${randomBytes(8).toString('hex')}`, timestamp: new Date(), body}, key)
    return probe(url, {headers: {'content-type': 'application/json', ...headers}, body})
  }
  const forged = await ping(generateWebhookSecret())
  if ('error' in forged) return {name, ok: false, detail: `${url} is unreachable (${forged.error}).`, fix: 'Start the backend (locally `engage serve` or `engage dev`) and check BACKEND_STATUS_WEBHOOK_URL.', failsAs: ProviderError}
  if (forged.status !== 401) {
    return {name, ok: false, detail: `${url} answered ${forged.status} to a ping with a bad signature (expected 401).`, fix: forged.status === 404 ? 'The path is wrong: engage serve takes /internal/message-status.' : 'The receiver must verify Standard Webhooks signatures.', failsAs: ProviderError}
  }
  const signed = await ping(secret)
  if ('error' in signed) return {name, ok: false, detail: `${url} dropped the signed ping (${signed.error}).`, fix: 'Check the backend logs.', failsAs: ProviderError}
  if ((signed.status >= 200 && signed.status < 300) || signed.status === 400) {
    return {name, ok: true, detail: `${url} refused a bad signature (401) and verified the signed ping (${signed.status}).`}
  }
  return {
    name,
    ok: false,
    detail: `${url} answered ${signed.status} to a ping signed with BACKEND_STATUS_WEBHOOK_SECRET.`,
    fix: signed.status === 401 ? 'The backend verifies with another secret: give both sides the same BACKEND_STATUS_WEBHOOK_SECRET.' : 'Check the backend logs.',
    failsAs: ProviderError,
  }
}
