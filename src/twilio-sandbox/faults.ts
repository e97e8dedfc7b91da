import {UsageError} from '../errors/engage-error.js'
import {twilioErrors, type TwilioApiError} from './api-error.js'
import {seededRandom} from './ids.js'

/**
 * Fail a share of message creates: with probability `ratio` (drawn from a
 * PRNG seeded with `seed`, so runs repeat) or every `everyNth` create. The
 * failure is answered with `status`: 429 (Twilio 20429) or 500 (20500).
 */
export interface SendFailureRule {
  ratio?: number
  everyNth?: number
  status?: 429 | 500
  seed?: number
}

export type DeliveryFailure = {code: number; status?: 'failed' | 'undelivered'}

/** How status callbacks are delivered. */
export interface CallbackBehaviour {
  /** Time between two status changes of a message. */
  stepDelayMs: number
  /** Extra delay between a status change and its callback ("late"). */
  lateByMs: number
  /** Deliver each callback twice. */
  twice: boolean
  /** Hold a message's callbacks until its last status and send them newest first. */
  outOfOrder: boolean
  /** Attempts per callback when the receiver answers non-2xx or cannot be reached. */
  maxAttempts: number
  retryDelayMs: number
  timeoutMs: number
}

/** Everything about the sandbox that a test can change while it runs. */
export interface SandboxBehaviour {
  /** Added before every REST API answer ("answer slowly"). */
  latencyMs: number
  sendFailures: SendFailureRule | null
  /** Recipients who opted out: creates to them are answered 400 / 21610. */
  optedOut: string[]
  /** Recipients whose creates are refused with a given Twilio error code (400). */
  rejectRecipients: Record<string, number>
  /** Recipients accepted, then failed asynchronously with an error code (30003, 63016, …). */
  failDelivery: Record<string, DeliveryFailure>
  callbacks: CallbackBehaviour
}

export type BehaviourPatch = Partial<Omit<SandboxBehaviour, 'callbacks'>> & {callbacks?: Partial<CallbackBehaviour>}

/** A patch as callers write it: a delivery failure may be just its error code. */
export type BehaviourInput = Omit<BehaviourPatch, 'failDelivery'> & {failDelivery?: Record<string, number | DeliveryFailure>}

export function defaultBehaviour(): SandboxBehaviour {
  return {
    latencyMs: 0,
    sendFailures: null,
    optedOut: [],
    rejectRecipients: {},
    failDelivery: {},
    callbacks: {stepDelayMs: 10, lateByMs: 0, twice: false, outOfOrder: false, maxAttempts: 3, retryDelayMs: 20, timeoutMs: 5000},
  }
}

/** Checks an untrusted behaviour patch (control-plane JSON) and returns it typed. */
export function parseBehaviourPatch(input: unknown): BehaviourPatch {
  const fail = (message: string): never => {
    throw new UsageError(`Invalid Twilio sandbox behaviour: ${message}`, {code: 'SANDBOX_BEHAVIOUR_INVALID'})
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return fail('expected a JSON object')
  const raw = input as Record<string, unknown>
  const known = ['latencyMs', 'sendFailures', 'optedOut', 'rejectRecipients', 'failDelivery', 'callbacks']
  for (const key of Object.keys(raw)) if (!known.includes(key)) fail(`unknown setting "${key}"`)
  const nonNegative = (value: unknown, name: string): number =>
    typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : fail(`${name} must be a number >= 0`)
  const patch: BehaviourPatch = {}
  if (raw.latencyMs !== undefined) patch.latencyMs = nonNegative(raw.latencyMs, 'latencyMs')
  if (raw.sendFailures !== undefined) {
    const rule = raw.sendFailures
    if (rule === null) patch.sendFailures = null
    else if (typeof rule !== 'object') fail('sendFailures must be an object or null')
    else {
      const r = rule as Record<string, unknown>
      if (r.ratio !== undefined && (typeof r.ratio !== 'number' || r.ratio < 0 || r.ratio > 1)) fail('sendFailures.ratio must be between 0 and 1')
      if (r.everyNth !== undefined && (!Number.isInteger(r.everyNth) || (r.everyNth as number) < 1)) fail('sendFailures.everyNth must be an integer >= 1')
      if ((r.ratio === undefined) === (r.everyNth === undefined)) fail('sendFailures needs exactly one of ratio or everyNth')
      if (r.status !== undefined && r.status !== 429 && r.status !== 500) fail('sendFailures.status must be 429 or 500')
      if (r.seed !== undefined && !Number.isInteger(r.seed)) fail('sendFailures.seed must be an integer')
      patch.sendFailures = {ratio: r.ratio as number | undefined, everyNth: r.everyNth as number | undefined, status: (r.status as 429 | 500 | undefined) ?? 429, seed: r.seed as number | undefined}
    }
  }
  if (raw.optedOut !== undefined) {
    if (!Array.isArray(raw.optedOut) || !raw.optedOut.every((n) => typeof n === 'string')) fail('optedOut must be an array of numbers')
    patch.optedOut = raw.optedOut as string[]
  }
  if (raw.rejectRecipients !== undefined) patch.rejectRecipients = codeMap(raw.rejectRecipients, 'rejectRecipients', fail)
  if (raw.failDelivery !== undefined) {
    const map = raw.failDelivery
    if (typeof map !== 'object' || map === null || Array.isArray(map)) fail('failDelivery must be an object')
    const out: Record<string, DeliveryFailure> = {}
    for (const [to, value] of Object.entries(map as Record<string, unknown>)) {
      const entry = typeof value === 'number' ? {code: value} : (value as Record<string, unknown> | null)
      if (!entry || !Number.isInteger(entry.code)) fail(`failDelivery["${to}"] must be an error code or {code, status}`)
      if (entry!.status !== undefined && entry!.status !== 'failed' && entry!.status !== 'undelivered') fail(`failDelivery["${to}"].status must be failed or undelivered`)
      out[to] = {code: entry!.code as number, status: entry!.status as DeliveryFailure['status']}
    }
    patch.failDelivery = out
  }
  if (raw.callbacks !== undefined) {
    const c = raw.callbacks as Record<string, unknown> | null
    if (typeof c !== 'object' || c === null) fail('callbacks must be an object')
    const callbacks: Partial<CallbackBehaviour> = {}
    for (const key of ['stepDelayMs', 'lateByMs', 'retryDelayMs', 'timeoutMs'] as const)
      if (c![key] !== undefined) callbacks[key] = nonNegative(c![key], `callbacks.${key}`)
    if (c!.maxAttempts !== undefined) {
      if (!Number.isInteger(c!.maxAttempts) || (c!.maxAttempts as number) < 1 || (c!.maxAttempts as number) > 10) fail('callbacks.maxAttempts must be an integer from 1 to 10')
      callbacks.maxAttempts = c!.maxAttempts as number
    }
    for (const key of ['twice', 'outOfOrder'] as const) {
      if (c![key] === undefined) continue
      if (typeof c![key] !== 'boolean') fail(`callbacks.${key} must be true or false`)
      callbacks[key] = c![key] as boolean
    }
    for (const key of Object.keys(c!)) if (!(key in defaultBehaviour().callbacks)) fail(`unknown callbacks setting "${key}"`)
    patch.callbacks = callbacks
  }
  return patch
}

function codeMap(value: unknown, name: string, fail: (message: string) => never): Record<string, number> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`${name} must be an object of number → error code`)
  const out: Record<string, number> = {}
  for (const [to, code] of Object.entries(value as Record<string, unknown>)) {
    if (!Number.isInteger(code)) fail(`${name}["${to}"] must be an integer error code`)
    out[to] = code as number
  }
  return out
}

/** The bare number of an address: `whatsapp:+1555…` and `+1555…` match the same recipient rules. */
export function bareAddress(address: string): string {
  const colon = address.indexOf(':')
  return colon === -1 ? address : address.slice(colon + 1)
}

/**
 * Holds the current behaviour and decides, create by create, whether to
 * inject a failure. Changing `sendFailures` restarts its sequence, so a
 * seeded rule fails the same creates every time it is set.
 */
export class FaultInjector {
  private current: SandboxBehaviour
  private random: () => number = Math.random
  private sendsSeen = 0

  constructor(initial: BehaviourPatch = {}) {
    this.current = defaultBehaviour()
    this.configure(initial)
  }

  get behaviour(): SandboxBehaviour {
    return structuredClone(this.current)
  }

  configure(patch: BehaviourPatch): SandboxBehaviour {
    const {callbacks, ...rest} = patch
    this.current = {...this.current, ...rest, callbacks: {...this.current.callbacks, ...callbacks}}
    if ('sendFailures' in patch) {
      this.sendsSeen = 0
      const seed = patch.sendFailures?.seed
      this.random = seed === undefined ? Math.random : seededRandom(seed)
    }
    return this.behaviour
  }

  reset(): SandboxBehaviour {
    this.current = defaultBehaviour()
    this.sendsSeen = 0
    this.random = Math.random
    return this.behaviour
  }

  /** An injected failure for the next create, if the rule says this one fails. */
  nextSendFault(): TwilioApiError | undefined {
    const rule = this.current.sendFailures
    if (!rule) return undefined
    this.sendsSeen++
    const fails = rule.everyNth !== undefined ? this.sendsSeen % rule.everyNth === 0 : this.random() < (rule.ratio ?? 0)
    if (!fails) return undefined
    return rule.status === 500 ? twilioErrors.internal() : twilioErrors.tooManyRequests()
  }

  /** A synchronous refusal for this recipient (opted out, or a configured code). */
  recipientRejection(to: string): TwilioApiError | undefined {
    const bare = bareAddress(to)
    if (this.current.optedOut.includes(to) || this.current.optedOut.includes(bare)) return twilioErrors.optedOut()
    const code = this.current.rejectRecipients[to] ?? this.current.rejectRecipients[bare]
    if (code === undefined) return undefined
    if (code === 21610) return twilioErrors.optedOut()
    if (code === 21211) return twilioErrors.invalidTo(to)
    return twilioErrors.rejected(code)
  }

  deliveryFailure(to: string): DeliveryFailure | undefined {
    return this.current.failDelivery[to] ?? this.current.failDelivery[bareAddress(to)]
  }

  get latencyMs(): number {
    return this.current.latencyMs
  }

  get callbacks(): CallbackBehaviour {
    return this.current.callbacks
  }
}
