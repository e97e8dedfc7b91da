import {parseTwilioForm, TWILIO_SIGNATURE_HEADER, type TwilioFormParse, type TwilioSignatureAlgorithm} from '../../webhooks/twilio-signature.js'
import type {ApiGatewayProxyEventV2} from '../aws-events.js'

/** Twilio's status callbacks are a few hundred bytes; anything past this is not one. */
export const MAX_CALLBACK_BYTES = 64 * 1024

/** A callback as received, before its signature is checked. */
export interface ReceivedCallback {
  params: Record<string, string>
  signature: string
  algorithm: TwilioSignatureAlgorithm
  messageSid: string
  accountSid: string
  /** MessageStatus (SmsStatus on older callbacks), as Twilio wrote it. */
  providerStatus: string
}

export type CallbackParse = {ok: true; callback: ReceivedCallback} | {ok: false; statusCode: number; error: string}

/**
 * A whole form, strictly: parts `name=value` (a name is not empty, neither
 * holds `=`), joined by single `&`, every `%` starting a valid escape.
 * One pass over the body instead of a split and two tests per part.
 */
const FORM = /^(?:[^=&%]|%[0-9A-Fa-f]{2})+=(?:[^=&%]|%[0-9A-Fa-f]{2})*(?:&(?:[^=&%]|%[0-9A-Fa-f]{2})+=(?:[^=&%]|%[0-9A-Fa-f]{2})*)*$/
const SID = /^[A-Z]{2}[0-9a-fA-F]{32}$/
const utf8 = new TextDecoder('utf-8', {fatal: true})

/**
 * A callback request as either entry receives it: the Lambda (an API Gateway
 * event) or `engage serve` (a node:http request). Header names are looked up
 * lower-case; a repeated header reads as its values joined by ", ".
 */
export interface CallbackRequest {
  method: string
  /** The path and query string as requested; Twilio signed the public base URL followed by these. */
  pathAndQuery: string
  header(name: string): string | undefined
  body: Buffer
}

/** The request inside an API Gateway event (the body decoded from base64 when flagged). */
export function callbackRequestOf(event: ApiGatewayProxyEventV2): CallbackRequest {
  const raw = event.body ?? ''
  return {
    method: event.requestContext.http.method,
    pathAndQuery: `${event.rawPath}${event.rawQueryString ? `?${event.rawQueryString}` : ''}`,
    header: (name) => header(event, name),
    body: event.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8'),
  }
}

/**
 * Reads a Twilio status callback out of a request: the form body, strictly
 * — every part `name=value`, escapes valid, UTF-8, no name twice — the
 * signature header, and the SIDs it must carry. Failures are 4xx with a
 * reason that names the problem, never a value.
 */
export function parseCallback(request: CallbackRequest): CallbackParse {
  const fail = (statusCode: number, error: string): CallbackParse => ({ok: false, statusCode, error})
  const bytes = request.body
  if (bytes.length > MAX_CALLBACK_BYTES) return fail(413, `The body is larger than ${MAX_CALLBACK_BYTES} bytes; a Twilio status callback is not.`)
  const contentType = (request.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase()
  if (contentType !== 'application/x-www-form-urlencoded') return fail(415, 'Expected an application/x-www-form-urlencoded body.')
  const signature = request.header(TWILIO_SIGNATURE_HEADER)
  if (!signature) return fail(400, 'The X-Twilio-Signature header is missing.')

  let body: string
  try {
    body = utf8.decode(bytes)
  } catch {
    return fail(400, 'The body is not valid UTF-8.')
  }
  if (body.length === 0) return fail(400, 'The body is empty.')
  if (!FORM.test(body)) return fail(400, 'The body is not a well-formed form (name=value pairs joined by &).')
  const parsed = formParams(body)
  if (!parsed.ok) return fail(400, `The body is not a Twilio callback: ${parsed.reason}.`)
  const {params} = parsed
  const messageSid = params.MessageSid ?? params.SmsSid
  const providerStatus = params.MessageStatus ?? params.SmsStatus
  const accountSid = params.AccountSid
  if (!messageSid || !SID.test(messageSid)) return fail(400, 'MessageSid is missing or is not a Twilio message SID.')
  if (!accountSid || !accountSid.startsWith('AC') || !SID.test(accountSid)) return fail(400, 'AccountSid is missing or is not a Twilio account SID.')
  if (!providerStatus) return fail(400, 'MessageStatus is missing.')
  const settings = request.header('x-twilio-webhooks-signature-settings') ?? ''
  const algorithm: TwilioSignatureAlgorithm = /HMAC_SHA256/i.test(settings) ? 'HMAC_SHA256' : 'HMAC_SHA1'
  return {ok: true, callback: {params, signature, algorithm, messageSid, accountSid, providerStatus}}
}

/**
 * parseTwilioForm's answer for a body FORM accepted, without URLSearchParams
 * (most of the parse's time): names and values are decoded only when they
 * hold an escape or a `+`. Should an escape not decode as UTF-8 (where
 * URLSearchParams substitutes U+FFFD), parseTwilioForm reads the body.
 */
function formParams(body: string): TwilioFormParse {
  const params = Object.create(null) as Record<string, string>
  try {
    for (const part of body.split('&')) {
      const equals = part.indexOf('=')
      const name = decodeFormText(part.slice(0, equals))
      if (name in params) return parseTwilioForm(body)
      params[name] = decodeFormText(part.slice(equals + 1))
    }
  } catch {
    return parseTwilioForm(body)
  }
  return {ok: true, params}
}

const ENCODED = /[%+]/
const PLUS = /\+/g

function decodeFormText(text: string): string {
  return ENCODED.test(text) ? decodeURIComponent(text.replace(PLUS, ' ')) : text
}

function header(event: ApiGatewayProxyEventV2, name: string): string | undefined {
  const direct = event.headers[name]
  if (direct !== undefined) return direct
  const key = Object.keys(event.headers).find((candidate) => candidate.toLowerCase() === name)
  return key === undefined ? undefined : event.headers[key]
}

/** The public URL Twilio signed: the configured base, never the Host header, plus the path and query it called. */
export function signedUrl(publicBaseUrl: string, pathAndQuery: string): string {
  return `${publicBaseUrl.replace(/\/+$/, '')}${pathAndQuery}`
}
