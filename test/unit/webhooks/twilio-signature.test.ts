import twilio from 'twilio'
import {describe, expect, it} from 'vitest'
import {computeTwilioSignature, parseTwilioForm, validateTwilioSignature} from '../../../src/webhooks/twilio-signature.js'

// A made-up token of the real shape (32 hex characters); never a real account's.
const AUTH_TOKEN = 'f0e1d2c3b4a5968778695a4b3c2d1e0f'
const OTHER_TOKEN = '00000000000000000000000000000000'

const STATUS_CALLBACK = {
  AccountSid: 'AC00000000000000000000000000000000',
  ApiVersion: '2010-04-01',
  From: '+15005550006',
  MessageSid: 'SM00000000000000000000000000000001',
  MessageStatus: 'delivered',
  SmsSid: 'SM00000000000000000000000000000001',
  SmsStatus: 'delivered',
  To: '+14155550100',
}

const URLS = [
  'https://engage.example.com/webhooks/twilio/status',
  'https://engage.example.com/webhooks/twilio/status?tenant=t_1&campaign=c%202',
  'http://localhost:3000/webhooks/twilio/status',
  'https://engage.example.com:8443/webhooks/twilio/status',
]

describe('computeTwilioSignature against the twilio SDK', () => {
  it.each(URLS)('matches getExpectedTwilioSignature for %s', (url) => {
    expect(computeTwilioSignature(AUTH_TOKEN, url, STATUS_CALLBACK)).toBe(twilio.getExpectedTwilioSignature(AUTH_TOKEN, url, STATUS_CALLBACK))
  })

  it('matches the SDK for HMAC_SHA256 signing too', () => {
    const url = URLS[0]!
    expect(computeTwilioSignature(AUTH_TOKEN, url, STATUS_CALLBACK, 'HMAC_SHA256')).toBe(
      twilio.getExpectedTwilioSignature(AUTH_TOKEN, url, STATUS_CALLBACK, 'HMAC_SHA256'),
    )
  })

  it('matches the SDK for non-ASCII values, empty values and no parameters', () => {
    const params = {Body: 'Olá 😀 ünïcode', Empty: '', 'Key With Space': 'v&=x'}
    expect(computeTwilioSignature(AUTH_TOKEN, URLS[0]!, params)).toBe(twilio.getExpectedTwilioSignature(AUTH_TOKEN, URLS[0]!, params))
    expect(computeTwilioSignature(AUTH_TOKEN, URLS[0]!, {})).toBe(twilio.getExpectedTwilioSignature(AUTH_TOKEN, URLS[0]!, {}))
  })

  it('sorts parameter names the way the SDK does (code units, upper case first)', () => {
    const params = {b: '1', B: '2', a: '3', _x: '4', A10: '5', A2: '6'}
    expect(computeTwilioSignature(AUTH_TOKEN, URLS[0]!, params)).toBe(twilio.getExpectedTwilioSignature(AUTH_TOKEN, URLS[0]!, params))
  })

  it('depends on the token, every parameter and the URL', () => {
    const base = computeTwilioSignature(AUTH_TOKEN, URLS[0]!, STATUS_CALLBACK)
    expect(computeTwilioSignature(OTHER_TOKEN, URLS[0]!, STATUS_CALLBACK)).not.toBe(base)
    expect(computeTwilioSignature(AUTH_TOKEN, URLS[0]!, {...STATUS_CALLBACK, MessageStatus: 'failed'})).not.toBe(base)
    expect(computeTwilioSignature(AUTH_TOKEN, `${URLS[0]!}?x=1`, STATUS_CALLBACK)).not.toBe(base)
  })
})

describe('validateTwilioSignature', () => {
  it.each(URLS)('accepts what the SDK signs and the SDK accepts what we sign, for %s', (url) => {
    const ours = computeTwilioSignature(AUTH_TOKEN, url, STATUS_CALLBACK)
    expect(twilio.validateRequest(AUTH_TOKEN, ours, url, STATUS_CALLBACK)).toBe(true)
    expect(validateTwilioSignature(AUTH_TOKEN, twilio.getExpectedTwilioSignature(AUTH_TOKEN, url, STATUS_CALLBACK), url, STATUS_CALLBACK)).toBe(true)
  })

  it('does not accept an https signature for the http URL (a proxy that terminates TLS must pass the public URL)', () => {
    const signature = computeTwilioSignature(AUTH_TOKEN, 'https://engage.example.com/webhooks/twilio/status', STATUS_CALLBACK)
    const http = 'http://engage.example.com/webhooks/twilio/status'
    expect(validateTwilioSignature(AUTH_TOKEN, signature, http, STATUS_CALLBACK)).toBe(false)
    expect(twilio.validateRequest(AUTH_TOKEN, signature, http, STATUS_CALLBACK)).toBe(false)
  })

  it('accepts the URL with or without the default port, as the SDK does', () => {
    const withPort = computeTwilioSignature(AUTH_TOKEN, 'https://engage.example.com:443/webhooks/twilio/status', STATUS_CALLBACK)
    const withoutPort = computeTwilioSignature(AUTH_TOKEN, 'https://engage.example.com/webhooks/twilio/status', STATUS_CALLBACK)
    for (const [signature, url] of [
      [withPort, 'https://engage.example.com/webhooks/twilio/status'],
      [withoutPort, 'https://engage.example.com:443/webhooks/twilio/status'],
    ] as const) {
      expect(validateTwilioSignature(AUTH_TOKEN, signature, url, STATUS_CALLBACK)).toBe(true)
      expect(twilio.validateRequest(AUTH_TOKEN, signature, url, STATUS_CALLBACK)).toBe(true)
    }
    const httpsPort = computeTwilioSignature(AUTH_TOKEN, 'http://localhost:80/s', {})
    expect(validateTwilioSignature(AUTH_TOKEN, httpsPort, 'http://localhost/s', {})).toBe(true)
  })

  it('refuses a wrong token, a changed parameter, an added parameter and a missing header', () => {
    const url = URLS[1]!
    const signature = computeTwilioSignature(AUTH_TOKEN, url, STATUS_CALLBACK)
    expect(validateTwilioSignature(OTHER_TOKEN, signature, url, STATUS_CALLBACK)).toBe(false)
    expect(validateTwilioSignature(AUTH_TOKEN, signature, url, {...STATUS_CALLBACK, MessageStatus: 'failed'})).toBe(false)
    expect(validateTwilioSignature(AUTH_TOKEN, signature, url, {...STATUS_CALLBACK, ErrorCode: '30003'})).toBe(false)
    expect(validateTwilioSignature(AUTH_TOKEN, undefined, url, STATUS_CALLBACK)).toBe(false)
    expect(validateTwilioSignature(AUTH_TOKEN, '', url, STATUS_CALLBACK)).toBe(false)
    expect(validateTwilioSignature('', signature, url, STATUS_CALLBACK)).toBe(false)
    expect(validateTwilioSignature(AUTH_TOKEN, signature.slice(0, -2), url, STATUS_CALLBACK)).toBe(false)
  })

  it('checks an HMAC_SHA256 signature only when told to', () => {
    const signature = computeTwilioSignature(AUTH_TOKEN, URLS[0]!, STATUS_CALLBACK, 'HMAC_SHA256')
    expect(validateTwilioSignature(AUTH_TOKEN, signature, URLS[0]!, STATUS_CALLBACK)).toBe(false)
    expect(validateTwilioSignature(AUTH_TOKEN, signature, URLS[0]!, STATUS_CALLBACK, 'HMAC_SHA256')).toBe(true)
  })
})

describe('parseTwilioForm', () => {
  it('parses a form body into the map the SDK signs', () => {
    const body = new URLSearchParams(STATUS_CALLBACK).toString()
    const parsed = parseTwilioForm(body)
    expect(parsed).toEqual({ok: true, params: STATUS_CALLBACK})
    const signature = twilio.getExpectedTwilioSignature(AUTH_TOKEN, URLS[0]!, STATUS_CALLBACK)
    expect(parsed.ok && validateTwilioSignature(AUTH_TOKEN, signature, URLS[0]!, parsed.params)).toBe(true)
  })

  it('decodes + and percent escapes', () => {
    expect(parseTwilioForm('Body=Hello+there%21+%F0%9F%98%80&To=%2B14155550100')).toEqual({ok: true, params: {Body: 'Hello there! 😀', To: '+14155550100'}})
  })

  it('refuses a repeated parameter name', () => {
    expect(parseTwilioForm('MessageStatus=sent&MessageStatus=delivered')).toEqual({
      ok: false,
      reason: 'the form parameter "MessageStatus" appears more than once',
    })
  })

  it('keeps a parameter called __proto__ as data', () => {
    expect(parseTwilioForm('__proto__=x&a=1')).toEqual({ok: true, params: {['__proto__']: 'x', a: '1'}})
  })
})
