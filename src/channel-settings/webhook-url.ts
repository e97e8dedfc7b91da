import {UsageError} from '../errors/engage-error.js'

/** The Twilio status-callback URL engage's webhook Lambda serves, under a base URL. */
export function defaultTwilioWebhookUrl(base: string | undefined): string | null {
  if (base === undefined || base.trim() === '') return null
  return `${base.trim().replace(/\/+$/, '')}/webhooks/twilio`
}

/**
 * An absolute http(s) URL without credentials in it. Plain http is accepted
 * only for loopback hosts, where the local stack runs.
 */
export function assertWebhookUrl(value: string, flag = '--webhook-url'): string {
  let url: URL
  try {
    url = new URL(value.trim())
  } catch {
    throw invalid(flag, 'it is not an absolute URL')
  }
  if (url.username || url.password) throw invalid(flag, 'it must not contain a user name or password')
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname)
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw invalid(flag, 'Twilio callbacks need https (http only for localhost)')
  }
  return url.toString()
}

function invalid(flag: string, why: string): UsageError {
  return new UsageError(`${flag} is not a usable webhook URL: ${why}.`, {
    code: 'INVALID_WEBHOOK_URL',
    suggestions: ['Pass --webhook-url https://hooks.example.com/webhooks/twilio, or set WEBHOOK_BASE_URL.'],
  })
}
