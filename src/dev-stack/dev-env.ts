import {randomBytes} from 'node:crypto'
import type {SandboxSeed} from '../twilio-sandbox/seed.js'
import {generateWebhookSecret} from '../webhooks/standard-webhooks.js'

/**
 * The dev stack's Twilio sandbox always holds this account and messaging
 * service, so the commands in docs/runbook.md work as written and a tenant
 * seeded once keeps working after `engage dev` restarts. The auth token is
 * generated once and kept in .env (TWILIO_AUTH_TOKEN): it is a local
 * sandbox's token, good for nothing else.
 */
export const DEV_ACCOUNT_SID = 'AC00000000000000000000000000000001'
export const DEV_MESSAGING_SERVICE_SID = 'MG00000000000000000000000000000001'
export const DEV_SMS_SENDERS = ['+15005550006', '+15005550007'] as const
export const DEV_WHATSAPP_SENDER = '+15005550008'

export function devSandboxSeed(authToken: string): SandboxSeed {
  return {
    accounts: [{sid: DEV_ACCOUNT_SID, authToken, status: 'active', friendlyName: 'engage dev sandbox'}],
    services: [{sid: DEV_MESSAGING_SERVICE_SID, accountSid: DEV_ACCOUNT_SID, friendlyName: 'engage dev service', phoneNumbers: [...DEV_SMS_SENDERS, `whatsapp:${DEV_WHATSAPP_SENDER}`]}],
  }
}

/** The secrets the dev stack needs: taken from the settings when usable, generated otherwise (and then written to .env). */
export interface DevSecrets {
  encryptionKey: string
  statusWebhookSecret: string
  twilioAuthToken: string
  /** Names of the ones generated now: only these are written to .env. */
  generated: string[]
}

export function devSecrets(get: (name: string) => string | undefined): DevSecrets {
  const generated: string[] = []
  const pick = (name: string, valid: (value: string) => boolean, make: () => string) => {
    const value = get(name)?.trim()
    if (value && valid(value)) return value
    generated.push(name)
    return make()
  }
  return {
    // A malformed key in the settings is not replaced: the stack fails on it with the key module's own message.
    encryptionKey: pick('ENCRYPTION_KEY', () => true, () => randomBytes(32).toString('hex')),
    statusWebhookSecret: pick('BACKEND_STATUS_WEBHOOK_SECRET', () => true, generateWebhookSecret),
    twilioAuthToken: pick('TWILIO_AUTH_TOKEN', (value) => /^[0-9a-f]{32}$/.test(value), () => randomBytes(16).toString('hex')),
    generated,
  }
}

/** The endpoints of a running dev stack, as the .env keys that point at them. */
export interface DevUrls {
  TWILIO_API_BASE_URL: string
  SQS_ENDPOINT: string
  SQS_QUEUE_URL: string
  SQS_DLQ_URL: string
  SES_ENDPOINT: string
  WEBHOOK_BASE_URL: string
  ENGAGE_SERVE_URL: string
  BACKEND_STATUS_WEBHOOK_URL: string
}
