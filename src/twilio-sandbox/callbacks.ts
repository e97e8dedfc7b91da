import {randomUUID} from 'node:crypto'
import {setMaxListeners} from 'node:events'
import {Agent as HttpAgent, request as httpRequest} from 'node:http'
import {Agent as HttpsAgent, request as httpsRequest} from 'node:https'
import type {CallbackBehaviour, DeliveryFailure} from './faults.js'
import {applyStatus, planLifecycle, statusCallbackParams} from './lifecycle.js'
import {twilioSignature} from './signature.js'
import type {MessageRecord, MessageStatus, SandboxStore} from './state/store.js'

/**
 * How long a kept-alive callback connection may sit idle before this side
 * closes it: well under the idle timeouts servers use (node's 5 s, serve's
 * 5 s), so a POST never goes out on a socket the server is closing.
 */
const IDLE_SOCKET_MS = 500

interface PendingCallback {
  status: MessageStatus
  params: Record<string, string>
  idempotencyToken: string
}

/**
 * Advances each created message through its statuses and POSTs a signed
 * status callback for each one to the message's `StatusCallback`, the way
 * Twilio does: form-encoded, `X-Twilio-Signature` over the exact URL and
 * params keyed with the account's auth token, and an
 * `I-Twilio-Idempotency-Token` that stays the same across retries and copies.
 * The behaviour in force when a message is created (delays, late, twice,
 * out of order, retries) applies to all of that message's callbacks.
 * Connections to a callback host are kept alive between callbacks, as an
 * HTTP client delivering many webhooks to one host does; a connection per
 * callback would cost more than the callback itself.
 */
export class CallbackDispatcher {
  private readonly pending = new Set<Promise<void>>()
  private readonly sleepers = new Set<{timer: NodeJS.Timeout; resolve: () => void}>()
  private readonly abort = new AbortController()
  private readonly agents = {
    http: new HttpAgent({keepAlive: true, timeout: IDLE_SOCKET_MS}),
    https: new HttpsAgent({keepAlive: true, timeout: IDLE_SOCKET_MS}),
  }
  private stopped = false

  constructor(private readonly store: SandboxStore) {
    // Every callback in flight listens for the stop: hundreds at once are expected, not a leak.
    setMaxListeners(0, this.abort.signal)
  }

  /** Starts the lifecycle of a freshly created message. */
  start(message: MessageRecord, behaviour: CallbackBehaviour, failure: DeliveryFailure | undefined): void {
    this.track(this.run(message, {...behaviour}, failure))
  }

  /** Resolves once no lifecycle or callback is in flight (or after `timeoutMs`). */
  async settled(timeoutMs = 30_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs
    while (this.pending.size > 0) {
      const left = deadline - Date.now()
      if (left <= 0) return false
      let timer: NodeJS.Timeout | undefined
      await Promise.race([Promise.allSettled([...this.pending]), new Promise((resolve) => (timer = setTimeout(resolve, left)))])
      clearTimeout(timer)
    }
    return true
  }

  /** Cancels every scheduled status change and callback; in-flight POSTs are aborted. */
  async stop(): Promise<void> {
    this.stopped = true
    this.abort.abort()
    for (const sleeper of this.sleepers) {
      clearTimeout(sleeper.timer)
      sleeper.resolve()
    }
    this.sleepers.clear()
    await Promise.allSettled([...this.pending])
    this.agents.http.destroy()
    this.agents.https.destroy()
  }

  private track(work: Promise<void>): void {
    const tracked = work.catch(() => undefined).finally(() => this.pending.delete(tracked))
    this.pending.add(tracked)
  }

  private sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.stopped) return Promise.resolve()
    return new Promise((resolve) => {
      const sleeper = {
        timer: setTimeout(() => {
          this.sleepers.delete(sleeper)
          resolve()
        }, ms),
        resolve,
      }
      this.sleepers.add(sleeper)
    })
  }

  private async run(message: MessageRecord, behaviour: CallbackBehaviour, failure: DeliveryFailure | undefined): Promise<void> {
    const held: PendingCallback[] = []
    // In order, each callback waits for the one before it: a late callback never overtakes an earlier one.
    let queue = Promise.resolve()
    for (const status of planLifecycle(message.channel, message.status === 'accepted', failure)) {
      await this.sleep(behaviour.stepDelayMs)
      if (this.stopped) return
      applyStatus(message, status, failure)
      if (!message.statusCallback) continue
      const callback = {status, params: statusCallbackParams(message), idempotencyToken: randomUUID()}
      if (behaviour.outOfOrder) {
        held.push(callback)
        continue
      }
      const dueAt = Date.now() + behaviour.lateByMs
      queue = queue.then(async () => {
        await this.sleep(dueAt - Date.now())
        await this.deliverWithCopies(message, callback, behaviour)
      })
    }
    if (behaviour.outOfOrder) {
      await this.sleep(behaviour.lateByMs)
      for (const callback of held.reverse()) await this.deliverWithCopies(message, callback, behaviour)
    }
    await queue
  }

  private async deliverWithCopies(message: MessageRecord, callback: PendingCallback, behaviour: CallbackBehaviour): Promise<void> {
    await this.deliver(message, callback, behaviour, false)
    if (behaviour.twice) await this.deliver(message, callback, behaviour, true)
  }

  private async deliver(message: MessageRecord, callback: PendingCallback, behaviour: CallbackBehaviour, duplicate: boolean): Promise<void> {
    const url = message.statusCallback
    const account = this.store.accounts.get(message.accountSid)
    if (!url || !account) return
    const body = new URLSearchParams(callback.params).toString()
    const headers = {
      'Content-Type': 'application/x-www-form-urlencoded',
      'User-Agent': 'TwilioProxy/1.1',
      'X-Twilio-Signature': twilioSignature(account.authToken, url, callback.params),
      'I-Twilio-Idempotency-Token': callback.idempotencyToken,
    }
    for (let attempt = 1; attempt <= behaviour.maxAttempts && !this.stopped; attempt++) {
      let httpStatus: number | null = null
      let error: string | null = null
      try {
        httpStatus = await postForm(url, body, headers, {timeoutMs: behaviour.timeoutMs, signal: this.abort.signal, agents: this.agents})
      } catch (cause) {
        error = (cause as Error).message
      }
      if (this.stopped) return
      this.store.recordCallback({messageSid: message.sid, status: callback.status, url, attempt, duplicate, httpStatus, error, at: new Date().toISOString()})
      if (httpStatus !== null && httpStatus >= 200 && httpStatus < 300) return
      await this.sleep(behaviour.retryDelayMs * attempt)
    }
  }
}

interface PostOptions {
  timeoutMs: number
  signal: AbortSignal
  agents: {http: HttpAgent; https: HttpsAgent}
}

/** POSTs a form body on a kept-alive connection and resolves with the HTTP status. */
function postForm(url: string, body: string, headers: Record<string, string>, options: PostOptions): Promise<number> {
  const {timeoutMs, signal, agents} = options
  return new Promise((resolve, reject) => {
    const target = new URL(url)
    const https = target.protocol === 'https:'
    const send = https ? httpsRequest : httpRequest
    const request = send(
      target,
      {method: 'POST', agent: https ? agents.https : agents.http, signal, timeout: timeoutMs, headers: {...headers, 'Content-Length': Buffer.byteLength(body)}},
      (response) => {
        response.resume()
        response.on('end', () => resolve(response.statusCode ?? 0))
        response.on('error', reject)
      },
    )
    request.on('timeout', () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)))
    request.on('error', reject)
    request.end(body)
  })
}
