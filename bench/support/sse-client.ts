import {request as httpRequest} from 'node:http'
import type {MessageStatusData} from '../../src/backend-status/status-payload.js'

/** One frame of GET /events that carried data (`event` is `message` when the frame names none, as in EventSource). */
export interface SseFrame {
  id: number
  event: string
  data: MessageStatusData
}

export interface SseClient {
  readonly frames: SseFrame[]
  /** True once the server ended or cut the stream (a slow client is disconnected). */
  readonly ended: boolean
  /** Statuses seen per message id in `message.status` frames, in arrival order. */
  statusesOf(messageId: string): string[]
  /** Resolves once `count` frames have arrived; throws after 20 s. */
  waitFor(count: number): Promise<void>
  close(): void
}

/**
 * A plain Server-Sent Events reader over node:http (no EventSource
 * polyfill), resolving once the server registered the subscription (its
 * first comment line arrived), so nothing published afterwards is missed.
 */
export function openSse(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const frames: SseFrame[] = []
    const byMessage = new Map<string, string[]>()
    let buffer = ''
    let ended = false
    let connected = false
    const request = httpRequest(url, {headers}, (response) => {
      if (response.statusCode !== 200) {
        response.resume()
        return reject(new Error(`GET ${url} answered ${response.statusCode}`))
      }
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => {
        buffer += chunk
        let at: number
        while ((at = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, at)
          buffer = buffer.slice(at + 2)
          const fields: Record<string, string> = {}
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) connected = true
            const colon = line.indexOf(': ')
            if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 2)
          }
          if (fields.data === undefined) continue
          const frame: SseFrame = {id: Number(fields.id), event: fields.event ?? 'message', data: JSON.parse(fields.data) as MessageStatusData}
          frames.push(frame)
          if (frame.event !== 'message.status') continue
          const list = byMessage.get(frame.data.messageId) ?? []
          list.push(frame.data.status)
          byMessage.set(frame.data.messageId, list)
        }
        if (connected) resolve(client)
      })
      response.on('close', () => (ended = true))
    })
    const client: SseClient = {
      frames,
      get ended() {
        return ended
      },
      statusesOf: (messageId) => byMessage.get(messageId) ?? [],
      async waitFor(count) {
        const deadline = Date.now() + 20_000
        while (frames.length < count) {
          if (Date.now() > deadline) throw new Error(`expected ${count} SSE frames, got ${frames.length}`)
          await new Promise((resolve) => setTimeout(resolve, 20))
        }
      },
      close: () => request.destroy(),
    }
    request.on('error', (error) => {
      if (!connected) reject(error)
    })
    request.end()
  })
}
