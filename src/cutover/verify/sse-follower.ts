import {request, type ClientRequest} from 'node:http'
import {request as httpsRequest} from 'node:https'
import {ProviderError} from '../../errors/engage-error.js'

/** What an SSE follower has seen: per message id, the first time each status arrived. */
export interface SseFollower {
  readonly url: string
  seen(messageId: string, status: string): Date | undefined
  close(): void
}

/**
 * Opens `GET /events?campaign=…` of `engage serve` (or the backend's
 * compatible stream) and records when each message's statuses arrive.
 * Resolves once the server answered 200 and sent its first bytes (the
 * subscription is then registered, so nothing published later is missed);
 * anything else is a ProviderError, raised before the caller writes anything.
 */
export function followSse(eventsUrl: string, filter: {campaign: string; tenant?: string}, options: {connectTimeoutMs?: number} = {}): Promise<SseFollower> {
  let url: URL
  try {
    url = new URL(eventsUrl)
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http(s)')
  } catch {
    return Promise.reject(
      new ProviderError(`The SSE URL "${eventsUrl.slice(0, 200)}" is not an http(s) URL.`, {
        code: 'VERIFY_SSE_URL_INVALID',
        suggestions: ['Set ENGAGE_SERVE_URL to the base URL of `engage serve` (e.g. http://127.0.0.1:8787), or pass the /events URL.'],
      }),
    )
  }
  url.searchParams.set('campaign', filter.campaign)
  if (filter.tenant) url.searchParams.set('tenant', filter.tenant)
  const seen = new Map<string, Date>()
  return new Promise((resolve, reject) => {
    let req: ClientRequest
    const fail = (why: string, cause?: unknown) => {
      clearTimeout(timer)
      req.destroy()
      reject(
        new ProviderError(`Could not follow the status stream at ${url.origin}${url.pathname}: ${why}`, {
          code: 'VERIFY_SSE_UNREACHABLE',
          cause,
          suggestions: ['Start `engage serve` (or `engage dev`) and set ENGAGE_SERVE_URL to its URL; nothing was created.'],
        }),
      )
    }
    const timer = setTimeout(() => fail(`no answer within ${options.connectTimeoutMs ?? 5000} ms`), options.connectTimeoutMs ?? 5000)
    const follower: SseFollower = {
      url: `${url.origin}${url.pathname}`,
      seen: (messageId, status) => seen.get(`${messageId}\u0000${status}`),
      close: () => req.destroy(),
    }
    req = (url.protocol === 'https:' ? httpsRequest : request)(url, {headers: {accept: 'text/event-stream'}}, (response) => {
      if (response.statusCode !== 200) {
        response.resume()
        return fail(`it answered HTTP ${response.statusCode}`)
      }
      response.setEncoding('utf8')
      let buffer = ''
      let connected = false
      response.on('data', (chunk: string) => {
        if (!connected) {
          connected = true
          clearTimeout(timer)
          resolve(follower)
        }
        buffer += chunk
        let end: number
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const data = block
            .split('\n')
            .filter((line) => line.startsWith('data:'))
            .map((line) => line.slice(5).trimStart())
            .join('\n')
          if (!data) continue
          try {
            const parsed = JSON.parse(data) as {messageId?: unknown; status?: unknown}
            if (typeof parsed.messageId === 'string' && typeof parsed.status === 'string') {
              const key = `${parsed.messageId}\u0000${parsed.status}`
              if (!seen.has(key)) seen.set(key, new Date())
            }
          } catch {
            // A frame that is not a status (gap notice, foreign event): not ours to judge.
          }
        }
      })
      response.on('error', () => {})
    })
    // After a resolve this only rejects a settled promise: a stream that drops later shows up as an `sse` hop not reached.
    req.on('error', (error) => fail(error.message, error))
    req.end()
  })
}
