import {describe, expect, it} from 'vitest'
import {assertWebhookUrl, defaultTwilioWebhookUrl} from '../../../src/channel-settings/webhook-url.js'

describe('webhook URLs', () => {
  it('derives the Twilio callback from WEBHOOK_BASE_URL, with or without a trailing slash', () => {
    expect(defaultTwilioWebhookUrl('https://hooks.example.com')).toBe('https://hooks.example.com/webhooks/twilio')
    expect(defaultTwilioWebhookUrl('https://hooks.example.com/prod/')).toBe('https://hooks.example.com/prod/webhooks/twilio')
    expect(defaultTwilioWebhookUrl(undefined)).toBeNull()
    expect(defaultTwilioWebhookUrl('  ')).toBeNull()
  })

  it('accepts https anywhere and http on loopback only', () => {
    expect(assertWebhookUrl('https://hooks.example.com/cb')).toBe('https://hooks.example.com/cb')
    expect(assertWebhookUrl('http://127.0.0.1:3000/webhooks/twilio')).toBe('http://127.0.0.1:3000/webhooks/twilio')
    expect(() => assertWebhookUrl('http://hooks.example.com/cb')).toThrow(/need https/)
    expect(() => assertWebhookUrl('hooks.example.com/cb')).toThrow(/not an absolute URL/)
  })

  it('refuses credentials embedded in the URL', () => {
    expect(() => assertWebhookUrl('https://user:pass@hooks.example.com/cb')).toThrow(/must not contain a user name or password/)
  })
})
