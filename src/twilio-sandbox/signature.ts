import {createHmac} from 'node:crypto'

/**
 * The `X-Twilio-Signature` of a webhook request, computed exactly as Twilio
 * does for form-encoded POSTs: take the full URL as configured (scheme, host,
 * port if any, path, query string, untouched), append every POST parameter
 * sorted by name as name immediately followed by value (a repeated parameter
 * contributes each of its values, sorted), HMAC-SHA1 that string keyed with
 * the account's auth token, and base64 the digest.
 *
 * Written independently of the SDK on purpose: tests check it with the SDK's
 * own `validateRequest`, which would prove nothing if both shared the code.
 */
export function twilioSignature(authToken: string, url: string, params: Record<string, string | string[]>): string {
  let data = url
  for (const name of Object.keys(params).sort()) {
    const value = params[name]
    const values = Array.isArray(value) ? [...new Set(value)].sort() : [value ?? '']
    for (const item of values) data += name + item
  }
  return createHmac('sha1', authToken).update(Buffer.from(data, 'utf8')).digest('base64')
}
