import {UsageError} from '../errors/engage-error.js'
import {isSid, newAuthToken, newSid} from './ids.js'

export const ACCOUNT_STATUSES = ['active', 'suspended', 'closed'] as const
export type AccountStatus = (typeof ACCOUNT_STATUSES)[number]

/** An account the sandbox knows, with the auth token that authenticates it and signs its callbacks. */
export interface SeedAccount {
  sid: string
  authToken: string
  status?: AccountStatus
  friendlyName?: string
}

/**
 * A messaging service of an account and its senders: SMS numbers in E.164
 * (`+15005550006`) and WhatsApp senders (`whatsapp:+15005550006`).
 */
export interface SeedService {
  sid: string
  accountSid: string
  friendlyName?: string
  phoneNumbers: string[]
}

/**
 * What the sandbox starts with. A seed file holds auth tokens, so it is a
 * secret: keep it out of version control and readable by its owner only.
 */
export interface SandboxSeed {
  accounts: SeedAccount[]
  services?: SeedService[]
}

const E164 = /^\+[1-9]\d{1,14}$/

/** True for `+15005550006` and `whatsapp:+15005550006`. */
export function isSenderAddress(value: string): boolean {
  return E164.test(value.startsWith('whatsapp:') ? value.slice('whatsapp:'.length) : value)
}

export function isE164(value: string): boolean {
  return E164.test(value)
}

/** One active account with a service holding two SMS numbers and a WhatsApp sender, fresh sids and token. */
export function defaultSeed(): SandboxSeed {
  const accountSid = newSid('AC')
  return {
    accounts: [{sid: accountSid, authToken: newAuthToken(), status: 'active', friendlyName: 'engage sandbox'}],
    services: [
      {
        sid: newSid('MG'),
        accountSid,
        friendlyName: 'engage sandbox service',
        phoneNumbers: ['+15005550006', '+15005550007', 'whatsapp:+15005550008'],
      },
    ],
  }
}

/**
 * Checks an untrusted seed (a file's JSON, a control-plane body) and returns
 * it typed. Errors name the offending entry by position and sid, never by token.
 */
export function parseSeed(input: unknown, origin = 'seed'): SandboxSeed {
  const fail = (message: string): never => {
    throw new UsageError(`Invalid Twilio sandbox ${origin}: ${message}`, {
      code: 'SANDBOX_SEED_INVALID',
      suggestions: ['A seed is {"accounts": [{"sid": "AC…", "authToken": "…", "status": "active"}], "services": [{"sid": "MG…", "accountSid": "AC…", "phoneNumbers": ["+1…", "whatsapp:+1…"]}]}.'],
    })
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return fail('expected a JSON object')
  const raw = input as Record<string, unknown>
  if (!Array.isArray(raw.accounts)) return fail('"accounts" must be an array')
  const accounts = raw.accounts.map((entry, index): SeedAccount => {
    const where = `accounts[${index}]`
    if (typeof entry !== 'object' || entry === null) return fail(`${where} must be an object`)
    const account = entry as Record<string, unknown>
    if (!isSid(account.sid, 'AC')) return fail(`${where}.sid must be "AC" followed by 32 hex digits`)
    if (typeof account.authToken !== 'string' || account.authToken.length < 8) return fail(`${where} (${account.sid}) needs an authToken of at least 8 characters`)
    const status = account.status ?? 'active'
    if (!ACCOUNT_STATUSES.includes(status as AccountStatus)) return fail(`${where}.status must be one of ${ACCOUNT_STATUSES.join(', ')}`)
    if (account.friendlyName !== undefined && typeof account.friendlyName !== 'string') return fail(`${where}.friendlyName must be a string`)
    return {sid: account.sid, authToken: account.authToken, status: status as AccountStatus, friendlyName: account.friendlyName as string | undefined}
  })
  const rawServices = raw.services ?? []
  if (!Array.isArray(rawServices)) return fail('"services" must be an array')
  const services = rawServices.map((entry, index): SeedService => {
    const where = `services[${index}]`
    if (typeof entry !== 'object' || entry === null) return fail(`${where} must be an object`)
    const service = entry as Record<string, unknown>
    if (!isSid(service.sid, 'MG')) return fail(`${where}.sid must be "MG" followed by 32 hex digits`)
    if (!isSid(service.accountSid, 'AC')) return fail(`${where}.accountSid must be an account sid`)
    const numbers = service.phoneNumbers ?? []
    if (!Array.isArray(numbers) || !numbers.every((n) => typeof n === 'string' && isSenderAddress(n)))
      return fail(`${where}.phoneNumbers must be E.164 numbers, optionally prefixed "whatsapp:"`)
    if (service.friendlyName !== undefined && typeof service.friendlyName !== 'string') return fail(`${where}.friendlyName must be a string`)
    return {sid: service.sid, accountSid: service.accountSid, friendlyName: service.friendlyName as string | undefined, phoneNumbers: numbers as string[]}
  })
  return {accounts, services}
}
