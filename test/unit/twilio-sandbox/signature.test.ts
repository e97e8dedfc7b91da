import twilio from 'twilio'
import {describe, expect, it} from 'vitest'
import {twilioSignature} from '../../../src/twilio-sandbox/signature.js'

// Twilio's published request-validation example (auth token "12345"); the expected
// values come from Twilio's docs and SDK test suites, not from this implementation.
const DOC_URL = 'https://mycompany.com/myapp.php?foo=1&bar=2'
const docParams = (caller: string) => ({CallSid: 'CA1234567890ABCDE', Caller: caller, Digits: '1234', From: caller, To: '+18005551212'})

describe('twilioSignature', () => {
  it('reproduces the published Twilio vectors', () => {
    expect(twilioSignature('12345', DOC_URL, docParams('+14158675309'))).toBe('RSOYDt4T1cUTdK1PDd93/VVr8B8=')
    expect(twilioSignature('12345', DOC_URL, docParams('+14158675310'))).toBe('GvWf1cFY/Q7PnoempGyD5oXAezc=')
  })

  it("is accepted by the SDK's validateRequest for a callback URL with port and query", () => {
    const token = 'f'.repeat(32)
    const url = 'http://127.0.0.1:43117/twilio/status?message=msg_42&tenant=7'
    const params = {MessageSid: 'SM' + '1'.repeat(32), MessageStatus: 'delivered', To: 'whatsapp:+15551234567', ErrorCode: '30003'}
    const signature = twilioSignature(token, url, params)
    expect(twilio.validateRequest(token, signature, url, params)).toBe(true)
    expect(twilio.validateRequest('e'.repeat(32), signature, url, params)).toBe(false)
    expect(twilio.validateRequest(token, signature, url, {...params, MessageStatus: 'failed'})).toBe(false)
    expect(twilio.validateRequest(token, signature, url.replace('msg_42', 'msg_43'), params)).toBe(false)
  })

  it('signs repeated parameters value by value, sorted, as the SDK validates them', () => {
    const token = 'a'.repeat(32)
    const params = {MediaUrl: ['https://b.example/2.png', 'https://a.example/1.png'], Body: 'x'}
    const signature = twilioSignature(token, DOC_URL, params)
    expect(signature).toBe(twilioSignature(token, DOC_URL, {Body: 'x', MediaUrl: ['https://a.example/1.png', 'https://b.example/2.png']}))
    expect(twilio.validateRequest(token, signature, DOC_URL, params)).toBe(true)
  })
})
