import {describe, expect, it} from 'vitest'
import {applyStatus, planLifecycle, segmentCount, statusCallbackParams} from '../../../src/twilio-sandbox/lifecycle.js'
import type {MessageRecord} from '../../../src/twilio-sandbox/state/store.js'

function message(overrides: Partial<MessageRecord> = {}): MessageRecord {
  const now = new Date('2024-05-01T12:34:00Z')
  return {
    sid: 'SM' + '0'.repeat(32),
    accountSid: 'AC' + '1'.repeat(32),
    messagingServiceSid: null,
    to: '+15551230000',
    from: '+15005550006',
    sender: '+15005550006',
    body: 'hello',
    channel: 'sms',
    status: 'queued',
    numSegments: 1,
    numMedia: 0,
    errorCode: null,
    errorMessage: null,
    statusCallback: 'http://127.0.0.1:1/cb',
    dateCreated: now,
    dateUpdated: now,
    dateSent: null,
    ...overrides,
  }
}

describe('planLifecycle', () => {
  it('walks SMS through sent and delivered, adding queued after accepted via a service', () => {
    expect(planLifecycle('sms', false)).toEqual(['sent', 'delivered'])
    expect(planLifecycle('sms', true)).toEqual(['queued', 'sent', 'delivered'])
  })

  it('adds read for WhatsApp', () => {
    expect(planLifecycle('whatsapp', true)).toEqual(['queued', 'sent', 'delivered', 'read'])
  })

  it('ends failures in failed (63016 by default) or undelivered (carrier codes)', () => {
    expect(planLifecycle('whatsapp', true, {code: 63016})).toEqual(['queued', 'failed'])
    expect(planLifecycle('sms', false, {code: 30003})).toEqual(['sent', 'undelivered'])
    expect(planLifecycle('sms', false, {code: 30007, status: 'failed'})).toEqual(['failed'])
  })
})

describe('applyStatus and statusCallbackParams', () => {
  it('assigns the picked sender when an accepted message is queued', () => {
    const accepted = message({status: 'accepted', from: null, sender: '+15005550007', messagingServiceSid: 'MG' + '2'.repeat(32)})
    applyStatus(accepted, 'queued', undefined)
    expect(accepted.from).toBe('+15005550007')
    const params = statusCallbackParams(accepted)
    expect(params).toMatchObject({MessageStatus: 'queued', SmsStatus: 'queued', From: '+15005550007', MessagingServiceSid: accepted.messagingServiceSid, ApiVersion: '2010-04-01'})
  })

  it('records the error code of a failed delivery and reports it in the callback', () => {
    const sms = message()
    applyStatus(sms, 'undelivered', {code: 30003}, new Date('2024-05-01T12:35:00Z'))
    expect(sms.errorCode).toBe(30003)
    expect(sms.errorMessage).toBe('Unreachable destination handset')
    expect(statusCallbackParams(sms, new Date('2024-05-01T12:35:00Z'))).toMatchObject({ErrorCode: '30003', MessageStatus: 'undelivered', RawDlrDoneDate: '2405011235'})
  })

  it('adds the channel fields for WhatsApp', () => {
    const wa = message({channel: 'whatsapp', to: 'whatsapp:+15551230000', from: 'whatsapp:+15005550008', sender: 'whatsapp:+15005550008', status: 'read'})
    const params = statusCallbackParams(wa)
    expect(params).toMatchObject({ChannelPrefix: 'whatsapp', ChannelToAddress: '+15551230000', To: 'whatsapp:+15551230000'})
    expect(params.ChannelInstallSid).toMatch(/^XE[0-9a-f]{32}$/)
    expect(params).not.toHaveProperty('ErrorCode')
  })
})

describe('segmentCount', () => {
  it('counts GSM-7 and UCS-2 segments', () => {
    expect(segmentCount('a'.repeat(160))).toBe(1)
    expect(segmentCount('a'.repeat(161))).toBe(2)
    expect(segmentCount('é'.repeat(160))).toBe(1)
    expect(segmentCount('ł'.repeat(70))).toBe(1)
    expect(segmentCount('ł'.repeat(71))).toBe(2)
  })
})
