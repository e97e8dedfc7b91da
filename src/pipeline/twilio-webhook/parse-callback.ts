import {parseTwilioForm, TWILIO_SIGNATURE_HEADER, type TwilioSignatureAlgorithm} from '../../webhooks/twilio-signature.js'
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

const FORM_PART = /^[^=&]+=[^=&]*$/
const BAD_ESCAPE = /%(?![0-9A-Fa-f]{2})/
const SID = /^[A-Z]{2}[0-9a-fA-F]{32}$/
const utf8 = new TextDecoder('utf-8', {fatal: true})

/**
 * Reads a Twilio status callback out of an API Gateway event: the form body
 * (base64 when flagged), strictly — every part `name=value`, escapes valid,
 * UTF-8, no name twice — the signature header, and the SIDs it must carry.
 * Failures are 4xx with a reason that names the problem, never a value.
 */
export function parseCallbackEvent(event: ApiGatewayProxyEventV2): CallbackParse {
  const fail = (statusCode: number, error: string): CallbackParse => ({ok: false, statusCode, error})
  const raw = event.body ?? ''
  const bytes = event.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8')
  if (bytes.length > MAX_CALLBACK_BYTES) return fail(413, `The body is larger than ${MAX_CALLBACK_BYTES} bytes; a Twilio status callback is not.`)
  const contentType = (header(event, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase()
  if (contentType !== 'application/x-www-form-urlencoded') return fail(415, 'Expected an application/x-www-form-urlencoded body.')
  const signature = header(event, TWILIO_SIGNATURE_HEADER)
  if (!signature) return fail(400, 'The X-Twilio-Signature header is missing.')

  let body: string
  try {
    body = utf8.decode(bytes)
  } catch {
    return fail(400, 'The body is not valid UTF-8.')
  }
  if (body.length === 0) return fail(400, 'The body is empty.')
  for (const part of body.split('&')) {
    if (!FORM_PART.test(part) || BAD_ESCAPE.test(part)) return fail(400, 'The body is not a well-formed form (name=value pairs joined by &).')
  }
  const parsed = parseTwilioForm(body)
  if (!parsed.ok) return fail(400, `The body is not a Twilio callback: ${parsed.reason}.`)
  const {params} = parsed
  const messageSid = params.MessageSid ?? params.SmsSid
  const providerStatus = params.MessageStatus ?? params.SmsStatus
  const accountSid = params.AccountSid
  if (!messageSid || !SID.test(messageSid)) return fail(400, 'MessageSid is missing or is not a Twilio message SID.')
  if (!accountSid || !accountSid.startsWith('AC') || !SID.test(accountSid)) return fail(400, 'AccountSid is missing or is not a Twilio account SID.')
  if (!providerStatus) return fail(400, 'MessageStatus is missing.')
  const settings = header(event, 'x-twilio-webhooks-signature-settings') ?? ''
  const algorithm: TwilioSignatureAlgorithm = /HMAC_SHA256/i.test(settings) ? 'HMAC_SHA256' : 'HMAC_SHA1'
  return {ok: true, callback: {params, signature, algorithm, messageSid, accountSid, providerStatus}}
}

function header(event: ApiGatewayProxyEventV2, name: string): string | undefined {
  const direct = event.headers[name]
  if (direct !== undefined) return direct
  const key = Object.keys(event.headers).find((candidate) => candidate.toLowerCase() === name)
  return key === undefined ? undefined : event.headers[key]
}

/** The public URL Twilio signed: the configured base, never the Host header, plus the path and query it called. */
export function signedUrl(publicBaseUrl: string, event: ApiGatewayProxyEventV2): string {
  const base = publicBaseUrl.replace(/\/+$/, '')
  return `${base}${event.rawPath}${event.rawQueryString ? `?${event.rawQueryString}` : ''}`
}
