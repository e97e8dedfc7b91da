import {NotFoundError, UsageError} from '../errors/engage-error.js'
import type {SandboxContext} from './context.js'
import {parseBehaviourPatch, type BehaviourInput, type SandboxBehaviour} from './faults.js'
import {redactSecret} from './ids.js'
import {messageJson} from './resources.js'
import {ACCOUNT_STATUSES, parseSeed, type AccountStatus, type SandboxSeed} from './seed.js'
import type {CallbackDelivery, SandboxCounters} from './state/store.js'

/** What a sandbox holds, safe to print: auth tokens are redacted. */
export interface SeedSummary {
  accounts: Array<{sid: string; status: AccountStatus; friendlyName: string; authToken: string}>
  services: Array<{sid: string; accountSid: string; friendlyName: string; phoneNumbers: string[]}>
}

/**
 * How tests and other processes drive a sandbox: seed it, change its
 * behaviour at run time, read its counters and callback log. The same
 * interface in process (`startTwilioSandbox`) and over HTTP
 * (`connectTwilioSandbox`, the `/_sandbox` control plane).
 */
export interface TwilioSandboxControl {
  readonly url: string
  seed(seed: SandboxSeed): Promise<SeedSummary>
  summary(): Promise<SeedSummary>
  setAccountStatus(accountSid: string, status: AccountStatus): Promise<void>
  configure(patch: BehaviourInput): Promise<SandboxBehaviour>
  behaviour(): Promise<SandboxBehaviour>
  counters(): Promise<SandboxCounters>
  /** Messages as the REST API renders them, oldest first. */
  messages(): Promise<Array<Record<string, unknown>>>
  callbackLog(): Promise<CallbackDelivery[]>
  /** Waits until every scheduled status change and callback has happened; false on timeout. */
  settled(timeoutMs?: number): Promise<boolean>
  /** Forgets messages, counters, callbacks and behaviour; seeded accounts stay. */
  reset(): Promise<void>
}

/** The control operations over a sandbox's in-process state. */
export function localControl(context: SandboxContext, url: string): TwilioSandboxControl {
  const {store, faults, callbacks} = context
  const summary = (): SeedSummary => ({
    accounts: [...store.accounts.values()].map((a) => ({sid: a.sid, status: a.status, friendlyName: a.friendlyName, authToken: redactSecret(a.authToken)})),
    services: [...store.services.values()].map((s) => ({sid: s.sid, accountSid: s.accountSid, friendlyName: s.friendlyName, phoneNumbers: s.senders.map((x) => x.address)})),
  })
  return {
    url,
    async seed(seed) {
      store.seed(parseSeed(seed))
      return summary()
    },
    async summary() {
      return summary()
    },
    async setAccountStatus(accountSid, status) {
      if (!ACCOUNT_STATUSES.includes(status)) throw new UsageError(`Account status must be one of ${ACCOUNT_STATUSES.join(', ')}`, {code: 'SANDBOX_STATUS_INVALID'})
      const account = store.accounts.get(accountSid)
      if (!account) throw new NotFoundError(`No sandbox account ${accountSid}`, {code: 'SANDBOX_ACCOUNT_NOT_FOUND'})
      account.status = status
      account.dateUpdated = new Date()
    },
    async configure(patch) {
      return faults.configure(parseBehaviourPatch(patch))
    },
    async behaviour() {
      return faults.behaviour
    },
    async counters() {
      return store.counters()
    },
    async messages() {
      return [...store.messages.values()].map(messageJson)
    },
    async callbackLog() {
      return store.callbackLog.map((entry) => ({...entry}))
    },
    async settled(timeoutMs) {
      return callbacks.settled(timeoutMs)
    },
    async reset() {
      await callbacks.settled(5_000)
      store.reset()
      faults.reset()
    },
  }
}
