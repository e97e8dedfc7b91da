import {describe, expect, it} from 'vitest'
import {parseMessageStatusPayload, webhookIdForEvent} from '../../../src/backend-status/status-payload.js'

const valid = {
  type: 'message.status',
  data: {
    eventId: 7,
    messageId: 'msg-1',
    tenantId: 'tenant-1',
    campaignId: null,
    channel: 'sms',
    status: 'delivered',
    providerStatus: 'delivered',
    statusReason: null,
    providerMessageId: 'SM123',
    occurredAt: '2026-03-01T12:00:00.000Z',
  },
}

describe('parseMessageStatusPayload', () => {
  it('accepts the contract and keeps every field', () => {
    expect(parseMessageStatusPayload(valid)).toEqual({ok: true, payload: valid})
  })

  it.each([
    ['not an object', [], 'JSON object'],
    ['another type', {...valid, type: 'message.created'}, '"type"'],
    ['a fractional event id', {...valid, data: {...valid.data, eventId: 1.5}}, 'data.eventId'],
    ['an empty tenant', {...valid, data: {...valid.data, tenantId: ''}}, 'data.tenantId'],
    ['a numeric campaign', {...valid, data: {...valid.data, campaignId: 3}}, 'data.campaignId'],
    ['no status', {...valid, data: {...valid.data, status: undefined}}, 'data.status'],
  ])('refuses %s, naming the field', (_name, value, field) => {
    const result = parseMessageStatusPayload(value)
    expect(result.ok).toBe(false)
    if (!result.ok) expect(result.message).toContain(field)
  })

  it('gives each event one webhook id, without dots', () => {
    expect(webhookIdForEvent(42)).toBe('msgstatus_42')
    expect(webhookIdForEvent(42)).toBe(webhookIdForEvent(42))
  })
})
