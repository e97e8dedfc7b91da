import {UsageError} from '../../errors/engage-error.js'
import {newSid} from '../ids.js'
import type {AccountStatus, SandboxSeed} from '../seed.js'

export type Channel = 'sms' | 'whatsapp'
export type MessageStatus = 'accepted' | 'queued' | 'sending' | 'sent' | 'delivered' | 'read' | 'undelivered' | 'failed'

export interface AccountRecord {
  sid: string
  authToken: string
  status: AccountStatus
  friendlyName: string
  dateCreated: Date
  dateUpdated: Date
}

export interface SenderRecord {
  /** `PN…` for an SMS number, `XE…` for a WhatsApp channel sender. */
  sid: string
  address: string
  channel: Channel
  dateCreated: Date
}

export interface ServiceRecord {
  sid: string
  accountSid: string
  friendlyName: string
  senders: SenderRecord[]
  dateCreated: Date
  dateUpdated: Date
}

export interface MessageRecord {
  sid: string
  accountSid: string
  messagingServiceSid: string | null
  to: string
  from: string | null
  /** The sender the service picked; `from` shows it once the message left `accepted`. */
  sender: string
  body: string
  channel: Channel
  status: MessageStatus
  numSegments: number
  numMedia: number
  errorCode: number | null
  errorMessage: string | null
  statusCallback: string | null
  dateCreated: Date
  dateUpdated: Date
  dateSent: Date | null
}

/** How often one logical send reached the sandbox. `accepted > 1` means a duplicate send. */
export interface SendCounter {
  attempts: number
  accepted: number
  rejected: number
  messageSids: string[]
}

export interface CallbackDelivery {
  messageSid: string
  status: MessageStatus
  url: string
  attempt: number
  /** True for the deliberate second copy of a callback ("twice" mode). */
  duplicate: boolean
  httpStatus: number | null
  error: string | null
  at: string
}

/** Counters a test reads to prove each message was sent exactly once. */
export interface SandboxCounters {
  creates: number
  accepted: number
  rejected: number
  /** Creates answered with an injected 429/500. */
  faulted: number
  byRecipient: Array<{to: string; body: string} & SendCounter>
  byStatusCallback: Array<{statusCallback: string} & SendCounter>
  callbacksByMessage: Record<string, {attempts: number; delivered: number; failed: number}>
}

/**
 * A WhatsApp sender is a Twilio number enabled for WhatsApp: the number is in
 * the service's phone-number pool too, and the `whatsapp:` address is its
 * channel sender.
 */
function sendersOf(addresses: string[], now: Date): SenderRecord[] {
  const senders: SenderRecord[] = []
  const add = (address: string, channel: Channel) => {
    if (!senders.some((sender) => sender.address === address))
      senders.push({sid: newSid(channel === 'whatsapp' ? 'XE' : 'PN'), address, channel, dateCreated: now})
  }
  for (const address of addresses) {
    if (address.startsWith('whatsapp:')) {
      add(address, 'whatsapp')
      add(address.slice('whatsapp:'.length), 'sms')
    } else add(address, 'sms')
  }
  return senders
}

const emptyCounter = (): SendCounter => ({attempts: 0, accepted: 0, rejected: 0, messageSids: []})

/**
 * The sandbox's memory: seeded accounts and services, created messages, send
 * counters and the callback delivery log. Plain data, no I/O.
 */
export class SandboxStore {
  readonly accounts = new Map<string, AccountRecord>()
  readonly services = new Map<string, ServiceRecord>()
  readonly messages = new Map<string, MessageRecord>()
  readonly callbackLog: CallbackDelivery[] = []
  private totals = {creates: 0, accepted: 0, rejected: 0, faulted: 0}
  private byRecipient = new Map<string, {to: string; body: string} & SendCounter>()
  private byStatusCallback = new Map<string, {statusCallback: string} & SendCounter>()

  /**
   * Adds (or replaces, by sid) accounts and services. A service must belong to
   * an account that is seeded now or was before; nothing is added otherwise.
   */
  seed(seed: SandboxSeed, now = new Date()): void {
    const knownAccounts = new Set([...this.accounts.keys(), ...seed.accounts.map((a) => a.sid)])
    for (const service of seed.services ?? []) {
      if (!knownAccounts.has(service.accountSid))
        throw new UsageError(`Twilio sandbox seed: service ${service.sid} belongs to unknown account ${service.accountSid}`, {code: 'SANDBOX_SEED_INVALID'})
    }
    for (const account of seed.accounts) {
      this.accounts.set(account.sid, {
        sid: account.sid,
        authToken: account.authToken,
        status: account.status ?? 'active',
        friendlyName: account.friendlyName ?? account.sid,
        dateCreated: now,
        dateUpdated: now,
      })
    }
    for (const service of seed.services ?? []) {
      this.services.set(service.sid, {
        sid: service.sid,
        accountSid: service.accountSid,
        friendlyName: service.friendlyName ?? service.sid,
        senders: sendersOf(service.phoneNumbers, now),
        dateCreated: now,
        dateUpdated: now,
      })
    }
  }

  servicesOf(accountSid: string): ServiceRecord[] {
    return [...this.services.values()].filter((service) => service.accountSid === accountSid)
  }

  /** Every attempt to create a message counts here, whatever its outcome. */
  countAttempt(to: string, body: string, statusCallback: string | null, outcome: 'accepted' | 'rejected' | 'faulted', messageSid?: string): void {
    this.totals.creates++
    if (outcome === 'accepted') this.totals.accepted++
    else if (outcome === 'rejected') this.totals.rejected++
    else this.totals.faulted++
    const recipientKey = `${to}\u0000${body}`
    const recipient = this.byRecipient.get(recipientKey) ?? {to, body, ...emptyCounter()}
    this.byRecipient.set(recipientKey, recipient)
    const counters: SendCounter[] = [recipient]
    if (statusCallback) {
      const callback = this.byStatusCallback.get(statusCallback) ?? {statusCallback, ...emptyCounter()}
      this.byStatusCallback.set(statusCallback, callback)
      counters.push(callback)
    }
    for (const counter of counters) {
      counter.attempts++
      if (outcome === 'accepted') counter.accepted++
      else counter.rejected++
      if (messageSid) counter.messageSids.push(messageSid)
    }
  }

  recordCallback(delivery: CallbackDelivery): void {
    this.callbackLog.push(delivery)
  }

  counters(): SandboxCounters {
    const callbacksByMessage: SandboxCounters['callbacksByMessage'] = {}
    for (const delivery of this.callbackLog) {
      const entry = (callbacksByMessage[delivery.messageSid] ??= {attempts: 0, delivered: 0, failed: 0})
      entry.attempts++
      if (delivery.httpStatus !== null && delivery.httpStatus >= 200 && delivery.httpStatus < 300) entry.delivered++
      else entry.failed++
    }
    const copy = <T extends SendCounter>(counter: T): T => ({...counter, messageSids: [...counter.messageSids]})
    return {
      ...this.totals,
      byRecipient: [...this.byRecipient.values()].map(copy),
      byStatusCallback: [...this.byStatusCallback.values()].map(copy),
      callbacksByMessage,
    }
  }

  /** Forgets messages, counters and callbacks; seeded accounts and services stay. */
  reset(): void {
    this.messages.clear()
    this.callbackLog.length = 0
    this.totals = {creates: 0, accepted: 0, rejected: 0, faulted: 0}
    this.byRecipient.clear()
    this.byStatusCallback.clear()
  }
}
