import {describe, expect, it} from 'vitest'
import {classifyMove, fromProviderStatus, isFinalStatus, statusRankSql} from '../../../src/messages/status-order.js'

describe('status order', () => {
  it.each([
    ['queued', 'sending', 'applied'],
    ['queued', 'delivered', 'applied'],
    ['sent', 'delivered', 'applied'],
    ['delivered', 'read', 'applied'],
    ['sent', 'failed', 'applied'],
    ['sending', 'undelivered', 'applied'],
    ['delivered', 'delivered', 'duplicate'],
    ['delivered', 'sent', 'backwards'],
    ['delivered', 'queued', 'backwards'],
    ['read', 'delivered', 'backwards'],
    ['delivered', 'undelivered', 'backwards'],
    ['failed', 'delivered', 'after-final'],
    ['undelivered', 'read', 'after-final'],
    ['failed', 'failed', 'duplicate'],
    ['bounced', 'queued', 'applied'],
  ] as const)('%s then %s is %s', (current, next, expected) => {
    expect(classifyMove(current, next)).toBe(expected)
  })

  it.each([
    ['accepted', 'queued'],
    ['scheduled', 'queued'],
    ['queued', 'queued'],
    ['sending', 'sending'],
    ['sent', 'sent'],
    ['delivered', 'delivered'],
    ['read', 'read'],
    ['failed', 'failed'],
    ['undelivered', 'undelivered'],
    ['canceled', 'failed'],
    ['Delivered', 'delivered'],
  ])('Twilio %s means %s', (word, status) => {
    expect(fromProviderStatus('twilio', word)).toBe(status)
  })

  it('SES accepted means sent; words with no meaning here are undefined', () => {
    expect(fromProviderStatus('ses', 'accepted')).toBe('sent')
    expect(fromProviderStatus('twilio', 'received')).toBeUndefined()
    expect(fromProviderStatus('twilio', 'constructor')).toBeUndefined()
  })

  it('failed and undelivered are the final statuses', () => {
    expect(['queued', 'sending', 'sent', 'delivered', 'read', 'failed', 'undelivered'].filter(isFinalStatus)).toEqual(['failed', 'undelivered'])
  })

  it('the SQL rank spells every status with its rank and ranks unknown words lowest', () => {
    expect(statusRankSql('status')).toBe(
      "(CASE status WHEN 'queued' THEN 0 WHEN 'sending' THEN 1 WHEN 'sent' THEN 2 WHEN 'delivered' THEN 3 WHEN 'read' THEN 4 WHEN 'failed' THEN 3 WHEN 'undelivered' THEN 3 ELSE -1 END)",
    )
  })
})
