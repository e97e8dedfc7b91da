import {createServer, type IncomingMessage, type ServerResponse} from 'node:http'
import {TwilioApiError, twilioErrors} from './api-error.js'
import {CallbackDispatcher} from './callbacks.js'
import type {SandboxContext} from './context.js'
import {localControl, type TwilioSandboxControl} from './control.js'
import {FaultInjector, parseBehaviourPatch, type BehaviourInput} from './faults.js'
import {basicCredentials, parseForm, readBody, safeEqual, sendJson} from './http.js'
import {CONTROL_PREFIX, handleControl} from './routes/control.js'
import {handleRest, type Product} from './routes/rest.js'
import {defaultSeed, parseSeed, type SandboxSeed} from './seed.js'
import {SandboxStore, type AccountRecord} from './state/store.js'
import {listenOn} from '../net/listen.js'

export interface TwilioSandboxOptions {
  /** 0 (the default) picks a free port. */
  port?: number
  /** Loopback by default; the sandbox is not meant to be reachable from elsewhere. */
  host?: string
  /** Accounts and services to start with; a fresh default seed when omitted. */
  seed?: SandboxSeed
  behaviour?: BehaviourInput
}

/** A running sandbox: its base URL (what `TWILIO_API_BASE_URL` is set to) and its control operations. */
export interface TwilioSandbox extends TwilioSandboxControl {
  readonly port: number
  /** The seed it started with, tokens included: for the process that started it only. */
  readonly initialSeed: SandboxSeed
  stop(): Promise<void>
}

/**
 * Starts a local HTTP server speaking the part of Twilio's REST API engage
 * uses (see `routes/rest.ts`), with HTTP basic auth, Twilio's error JSON,
 * signed status callbacks, fault injection and send counters, plus the
 * `/_sandbox` control plane. Requests for both api.twilio.com and
 * messaging.twilio.com arrive on the one port; the SDK's sandbox HTTP client
 * names the original host in `X-Forwarded-Host`.
 */
export async function startTwilioSandbox(options: TwilioSandboxOptions = {}): Promise<TwilioSandbox> {
  const initialSeed = options.seed ? parseSeed(options.seed) : defaultSeed()
  const store = new SandboxStore()
  store.seed(initialSeed)
  const faults = new FaultInjector(parseBehaviourPatch(options.behaviour ?? {}))
  const context: SandboxContext = {store, faults, callbacks: new CallbackDispatcher(store)}
  let control: TwilioSandboxControl | undefined

  const server = createServer((request, response) => {
    handle(context, control!, request, response).catch((error: unknown) => {
      if (!response.headersSent) sendJson(response, 500, twilioErrors.internal().toBody())
      else response.destroy(error as Error)
    })
  })
  // As long as node's default: the SDK keeps its connection to Twilio alive, and an agent
  // drops a connection whose announced idle timeout is 1 s or less after every request.
  server.keepAliveTimeout = 5_000
  const host = options.host ?? '127.0.0.1'
  const port = await listenOn(server, options.port ?? 0, host)
  const url = `http://${host}:${port}`
  control = localControl(context, url)
  let stopping: Promise<void> | undefined
  return {
    ...control,
    port,
    initialSeed,
    stop() {
      stopping ??= (async () => {
        await context.callbacks.stop()
        const closed = new Promise<void>((resolve) => server.close(() => resolve()))
        server.closeAllConnections()
        await closed
      })()
      return stopping
    },
  }
}

async function handle(context: SandboxContext, control: TwilioSandboxControl, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const target = new URL(request.url ?? '/', 'http://sandbox')
  const method = (request.method ?? 'GET').toUpperCase()
  const text = await readBody(request)
  if (target.pathname === CONTROL_PREFIX || target.pathname.startsWith(`${CONTROL_PREFIX}/`)) {
    let json: unknown = null
    try {
      json = text ? JSON.parse(text) : null
    } catch {
      return sendJson(response, 400, {error: {code: 'SANDBOX_BAD_JSON', message: 'The control plane takes JSON bodies'}})
    }
    const result = await handleControl(control, method, target.pathname, json)
    if (result.status === 204) {
      response.writeHead(204).end()
      return
    }
    return sendJson(response, result.status, result.body)
  }
  const {latencyMs} = context.faults
  if (latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, latencyMs))
  try {
    const product = productOf(request.headers['x-forwarded-host'], target.pathname)
    if (!product) throw twilioErrors.notFound(target.pathname)
    const account = authenticate(context, request.headers.authorization)
    const form = request.headers['content-type']?.startsWith('application/x-www-form-urlencoded') ? parseForm(text) : {}
    const result = handleRest(context, {product, method, path: target.pathname, query: parseForm(target.searchParams), form, account})
    sendJson(response, result.status, result.body)
  } catch (error) {
    if (error instanceof TwilioApiError) return sendJson(response, error.status, error.toBody())
    throw error
  }
}

/** The Twilio product of a request: from the forwarded host, else from the path (for curl). */
function productOf(forwardedHost: string | string[] | undefined, path: string): Product | undefined {
  const host = Array.isArray(forwardedHost) ? forwardedHost[0] : forwardedHost
  if (host) {
    const product = host.split('.')[0]
    return product === 'api' || product === 'messaging' ? product : undefined
  }
  if (path.startsWith('/2010-04-01/')) return 'api'
  if (path.startsWith('/v1/Services')) return 'messaging'
  return undefined
}

/** HTTP basic auth with AccountSid:AuthToken; closed accounts no longer authenticate. */
function authenticate(context: SandboxContext, header: string | undefined): AccountRecord {
  const credentials = basicCredentials(header)
  const account = credentials && context.store.accounts.get(credentials.username)
  if (!credentials || !account || account.status === 'closed' || !safeEqual(credentials.password, account.authToken)) throw twilioErrors.authenticate()
  return account
}
