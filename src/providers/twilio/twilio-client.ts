import {createRequire} from 'node:module'
import type TwilioSDK from 'twilio'
import {UsageError} from '../../errors/engage-error.js'
import {createSandboxHttpClient} from '../../twilio-sandbox/sandbox-http-client.js'

/** The setting that points engage's Twilio client at a sandbox instead of Twilio's cloud. */
export const TWILIO_API_BASE_URL = 'TWILIO_API_BASE_URL'

export interface TwilioClientOptions {
  accountSid: string
  authToken: string
  /** A Twilio-compatible sandbox (`engage sandbox twilio`); unset or empty means Twilio's cloud. */
  baseUrl?: string
  /** Per-request timeout in milliseconds (the SDK's default is 30 s). */
  timeoutMs?: number
  /** Let the SDK retry 429 answers with backoff (off by default, as in the SDK). */
  autoRetry?: boolean
  maxRetries?: number
}

const requireFromHere = createRequire(import.meta.url)
let sdk: typeof TwilioSDK | undefined

/** The SDK, loaded on first use: commands that never talk to Twilio do not pay for it. */
function loadTwilio(): typeof TwilioSDK {
  sdk ??= requireFromHere('twilio') as typeof TwilioSDK
  return sdk
}

/**
 * Loads the SDK through a literal import(), which a bundler follows: a Lambda
 * bundle has no node_modules for the require above to find. Handlers call
 * it once before building clients.
 */
export async function preloadTwilio(): Promise<void> {
  sdk ??= ((await import('twilio')) as unknown as {default: typeof TwilioSDK}).default
}

/**
 * A real `twilio` SDK client for an account. With `baseUrl` (the
 * `TWILIO_API_BASE_URL` setting) every request goes to that sandbox through
 * the SDK's supported `httpClient` option; without it, to Twilio.
 */
export function createTwilioClient(options: TwilioClientOptions): TwilioSDK.Twilio {
  const twilio = loadTwilio()
  const requestOptions = {timeout: options.timeoutMs, autoRetry: options.autoRetry, maxRetries: options.maxRetries}
  if (options.baseUrl === undefined || options.baseUrl === '') return twilio(options.accountSid, options.authToken, requestOptions)
  let protocol: string | undefined
  try {
    protocol = new URL(options.baseUrl).protocol
  } catch {
    protocol = undefined
  }
  if (protocol !== 'http:' && protocol !== 'https:')
    throw new UsageError(`${TWILIO_API_BASE_URL} must be an http(s) URL, got "${options.baseUrl}"`, {
      code: 'TWILIO_BASE_URL_INVALID',
      suggestions: ['Use the URL printed by `engage sandbox twilio` (e.g. http://127.0.0.1:4010), or unset it to use Twilio.'],
    })
  const httpClient = createSandboxHttpClient(twilio.RequestClient, options.baseUrl, requestOptions)
  return twilio(options.accountSid, options.authToken, {httpClient})
}
