import type TwilioSDK from 'twilio'

type RequestClient = TwilioSDK.RequestClient
type RequestClientClass = typeof TwilioSDK.RequestClient
type RequestOptions<TData> = Parameters<RequestClient['request']>[0] & {data?: TData}
export type RequestClientOptions = NonNullable<ConstructorParameters<RequestClientClass>[0]>

/**
 * Where a Twilio API URL goes when the SDK talks to a sandbox at `baseUrl`:
 * `https://<product>.twilio.com/<path>?<query>` becomes
 * `<baseUrl>/<path>?<query>`, and the original host travels in
 * `X-Forwarded-Host` so one port can serve api and messaging. URLs that are
 * not Twilio's are left alone.
 */
export function rewriteTwilioUrl(baseUrl: string, uri: string): {uri: string; forwardedHost?: string} {
  const original = new URL(uri)
  if (original.hostname !== 'twilio.com' && !original.hostname.endsWith('.twilio.com')) return {uri}
  return {uri: `${sandboxPrefix(baseUrl)}${original.pathname}${original.search}`, forwardedHost: original.host}
}

// Parsed once per base URL: the SDK client makes every request against the same one.
const prefixes = new Map<string, string>()

/** Origin and path of the sandbox's base URL, without a trailing slash. */
function sandboxPrefix(baseUrl: string): string {
  let prefix = prefixes.get(baseUrl)
  if (prefix === undefined) {
    const base = new URL(baseUrl)
    prefix = `${base.origin}${base.pathname.replace(/\/+$/, '')}`
    prefixes.set(baseUrl, prefix)
  }
  return prefix
}

/**
 * The SDK's own HTTP client (its axios, basic auth, form encoding, 429
 * auto-retry) aimed at a sandbox, for the Twilio client's supported
 * `httpClient` option: nothing in the SDK is patched. The SDK's
 * `RequestClient` class is passed in so this module does not load the SDK.
 */
export function createSandboxHttpClient(RequestClientBase: RequestClientClass, baseUrl: string, options: RequestClientOptions = {}): RequestClient {
  class SandboxRequestClient extends RequestClientBase {
    override request<TData>(opts: RequestOptions<TData>) {
      const {uri, forwardedHost} = rewriteTwilioUrl(baseUrl, opts.uri)
      const headers = forwardedHost ? {...opts.headers, 'X-Forwarded-Host': forwardedHost} : opts.headers
      return super.request<TData>({...opts, uri, headers})
    }
  }
  return new SandboxRequestClient(options)
}
