import {isEngageError} from '../../errors/engage-error.js'
import type {TwilioSandboxControl} from '../control.js'
import type {BehaviourInput} from '../faults.js'
import type {RouteResult} from '../http.js'
import type {AccountStatus, SandboxSeed} from '../seed.js'

export const CONTROL_PREFIX = '/_sandbox'

/**
 * The JSON control plane under `/_sandbox`, so a sandbox in another process
 * can be seeded, reconfigured and read. It never returns an auth token.
 */
export async function handleControl(control: TwilioSandboxControl, method: string, path: string, json: unknown): Promise<RouteResult> {
  const route = `${method} ${path.slice(CONTROL_PREFIX.length) || '/'}`
  try {
    const status = /^POST \/accounts\/(AC[0-9a-fA-F]{32})\/status$/.exec(route)
    if (status) {
      await control.setAccountStatus(status[1]!, (json as {status?: AccountStatus} | null)?.status as AccountStatus)
      return {status: 204, body: null}
    }
    switch (route) {
      case 'GET /health':
        return {status: 200, body: {ok: true}}
      case 'GET /seed':
        return {status: 200, body: await control.summary()}
      case 'POST /seed':
        return {status: 200, body: await control.seed(json as SandboxSeed)}
      case 'GET /behaviour':
        return {status: 200, body: await control.behaviour()}
      case 'PATCH /behaviour':
      case 'POST /behaviour':
        return {status: 200, body: await control.configure(json as BehaviourInput)}
      case 'GET /counters':
        return {status: 200, body: await control.counters()}
      case 'GET /messages':
        return {status: 200, body: await control.messages()}
      case 'GET /callbacks':
        return {status: 200, body: await control.callbackLog()}
      case 'POST /settled': {
        const timeoutMs = (json as {timeoutMs?: unknown} | null)?.timeoutMs
        return {status: 200, body: {settled: await control.settled(typeof timeoutMs === 'number' ? timeoutMs : undefined)}}
      }
      case 'POST /reset':
        await control.reset()
        return {status: 204, body: null}
      default:
        return {status: 404, body: {error: {code: 'SANDBOX_ROUTE_NOT_FOUND', message: `No control route ${route}`}}}
    }
  } catch (error) {
    if (isEngageError(error)) return {status: error.exitCode === 7 ? 404 : 400, body: {error: {code: error.code, message: error.message}}}
    throw error
  }
}
