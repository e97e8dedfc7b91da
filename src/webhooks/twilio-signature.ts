import {createHmac, timingSafeEqual} from 'node:crypto'

/**
 * Twilio's `X-Twilio-Signature` for status callbacks and inbound webhooks:
 * base64 HMAC-SHA1, keyed by the account's auth token, of the full URL Twilio
 * requested (scheme, host, path, query) followed by every POST parameter,
 * sorted by name, as name + value with no separators. Kept here without the
 * `twilio` package so the status webhook handler can check a signature
 * without loading the SDK; the tests cross-check it against the SDK.
 *
 * Parameters are a flat map. Twilio never sends a name twice, so
 * {@link parseTwilioForm} refuses a body that does, rather than guess how the
 * SDK's array handling (dedupe and sort the values) would have signed it.
 */
export const TWILIO_SIGNATURE_HEADER = 'x-twilio-signature'

export type TwilioSignatureAlgorithm = 'HMAC_SHA1' | 'HMAC_SHA256'

/**
 * The signature Twilio sends for `url` and `params`. `algorithm` is HMAC_SHA1
 * (auth token signing) unless the request's
 * `X-Twilio-Webhooks-Signature-Settings` header names HMAC_SHA256.
 */
export function computeTwilioSignature(
  authToken: string,
  url: string,
  params: Readonly<Record<string, string>>,
  algorithm: TwilioSignatureAlgorithm = 'HMAC_SHA1',
): string {
  return sign(authToken, url + signedParams(params), algorithm)
}

/** Every parameter, sorted by name, as name + value with no separators: what follows the URL in the signed text. */
function signedParams(params: Readonly<Record<string, string>>): string {
  // Sorted by UTF-16 code units, as JavaScript's default sort (and Twilio's SDK) does.
  return Object.keys(params)
    .sort()
    .reduce((acc, key) => acc + key + params[key], '')
}

function sign(authToken: string, data: string, algorithm: TwilioSignatureAlgorithm): string {
  return createHmac(algorithm === 'HMAC_SHA256' ? 'sha256' : 'sha1', authToken)
    .update(data, 'utf8')
    .digest('base64')
}

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8')
  const right = Buffer.from(b, 'utf8')
  // The expected length is fixed by the hash, so failing early on length leaks nothing secret.
  return left.length === right.length && timingSafeEqual(left, right)
}

// Twilio may sign an https URL with or without the default port (the SDK
// checks both), so the URL is tried as received and with :443/:80 added or
// removed. Anything else (scheme, host, path, query) must match exactly: an
// https callback received behind a TLS-terminating proxy as http does NOT
// verify unless the caller passes the public https URL.
function urlVariants(url: string): string[] {
  const match = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/is.exec(url)
  if (!match) return [url]
  const [, scheme = '', authority = '', rest = ''] = match
  const hostEnd = authority.lastIndexOf(']') + 1
  const portAt = authority.indexOf(':', Math.max(hostEnd, authority.lastIndexOf('@') + 1))
  const host = portAt === -1 ? authority : authority.slice(0, portAt)
  const defaultPort = scheme.toLowerCase() === 'https://' ? ':443' : ':80'
  return [...new Set([url, scheme + host + rest, scheme + host + defaultPort + rest])]
}

/**
 * True when `signature` (the X-Twilio-Signature header) is what Twilio would
 * send for this URL and these parameters. Compared in constant time. `url`
 * must be the public URL Twilio called, query string included.
 */
export function validateTwilioSignature(
  authToken: string,
  signature: string | undefined,
  url: string,
  params: Readonly<Record<string, string>>,
  algorithm: TwilioSignatureAlgorithm = 'HMAC_SHA1',
): boolean {
  if (!signature || !authToken) return false
  const text = signedParams(params)
  // Which URL form Twilio signed is no secret, so the first match ends the search (a forgery still tries them all).
  return urlVariants(url).some((candidate) => safeEqual(signature, sign(authToken, candidate + text, algorithm)))
}

export type TwilioFormParse = {ok: true; params: Record<string, string>} | {ok: false; reason: string}

/**
 * Parse an `application/x-www-form-urlencoded` Twilio webhook body into the
 * flat map the signature covers. A parameter name that appears twice is
 * refused (see the module comment), as is a body that is not a form.
 */
export function parseTwilioForm(body: string): TwilioFormParse {
  const params: Record<string, string> = Object.create(null) as Record<string, string>
  for (const [key, value] of new URLSearchParams(body)) {
    if (Object.prototype.hasOwnProperty.call(params, key)) {
      return {ok: false, reason: `the form parameter "${key.slice(0, 64)}" appears more than once`}
    }
    params[key] = value
  }
  return {ok: true, params: {...params}}
}
