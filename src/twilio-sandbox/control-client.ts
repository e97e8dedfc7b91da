import {ProviderError} from '../errors/engage-error.js'
import type {SeedSummary, TwilioSandboxControl} from './control.js'
import type {BehaviourInput, SandboxBehaviour} from './faults.js'
import type {AccountStatus, SandboxSeed} from './seed.js'
import type {CallbackDelivery, SandboxCounters} from './state/store.js'

/**
 * Drives a sandbox running in another process (`engage sandbox twilio`)
 * through its `/_sandbox` control plane, with the same interface as the
 * in-process handle.
 */
export function connectTwilioSandbox(url: string): TwilioSandboxControl {
  const base = url.replace(/\/+$/, '')
  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response
    try {
      response = await fetch(`${base}/_sandbox${path}`, {
        method,
        headers: body === undefined ? {} : {'Content-Type': 'application/json'},
        body: body === undefined ? undefined : JSON.stringify(body),
      })
    } catch (cause) {
      throw new ProviderError(`The Twilio sandbox at ${base} is unreachable`, {
        code: 'SANDBOX_UNREACHABLE',
        cause,
        suggestions: ['Start it with `engage sandbox twilio` and use the URL it prints.'],
      })
    }
    if (response.status === 204) return undefined as T
    const json = (await response.json()) as {error?: {code: string; message: string}}
    if (!response.ok) throw new ProviderError(`Twilio sandbox: ${json.error?.message ?? `HTTP ${response.status}`}`, {code: json.error?.code ?? 'SANDBOX_CONTROL_FAILED'})
    return json as T
  }
  return {
    url: base,
    seed: (seed: SandboxSeed) => call<SeedSummary>('POST', '/seed', seed),
    summary: () => call<SeedSummary>('GET', '/seed'),
    setAccountStatus: (accountSid: string, status: AccountStatus) => call<void>('POST', `/accounts/${accountSid}/status`, {status}),
    configure: (patch: BehaviourInput) => call<SandboxBehaviour>('PATCH', '/behaviour', patch),
    behaviour: () => call<SandboxBehaviour>('GET', '/behaviour'),
    counters: () => call<SandboxCounters>('GET', '/counters'),
    messages: () => call<Array<Record<string, unknown>>>('GET', '/messages'),
    callbackLog: () => call<CallbackDelivery[]>('GET', '/callbacks'),
    settled: async (timeoutMs?: number) => (await call<{settled: boolean}>('POST', '/settled', {timeoutMs})).settled,
    reset: () => call<void>('POST', '/reset'),
  }
}
