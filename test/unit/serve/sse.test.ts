import {connect} from 'node:net'
import {request as httpRequest} from 'node:http'
import {afterEach, describe, expect, it} from 'vitest'
import type {MessageStatusPayload} from '../../../src/backend-status/status-payload.js'
import {startServeServer, type ServeServer} from '../../../src/serve/server.js'

function payload(eventId: number, statusReason: string | null = null): MessageStatusPayload {
  return {
    type: 'message.status',
    data: {
      eventId,
      messageId: `msg-${eventId}`,
      tenantId: 'tenant-sse',
      campaignId: null,
      channel: 'sms',
      status: 'sent',
      providerStatus: 'sent',
      statusReason,
      providerMessageId: null,
      occurredAt: '2026-03-01T12:00:00.000Z',
    },
  }
}

/** Reads an SSE stream over a real connection, counting frames and comments. */
function readStream(url: string): Promise<{ids: number[]; comments: string[]; close(): void; ended: Promise<void>}> {
  return new Promise((resolve, reject) => {
    const ids: number[] = []
    const comments: string[] = []
    let buffer = ''
    const req = httpRequest(url, (response) => {
      let onEnd: () => void = () => {}
      const ended = new Promise<void>((done) => (onEnd = done))
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => {
        buffer += chunk
        let at: number
        while ((at = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, at)
          buffer = buffer.slice(at + 2)
          for (const line of frame.split('\n')) {
            if (line.startsWith('id: ')) ids.push(Number(line.slice(4)))
            else if (line.startsWith(':')) comments.push(line.slice(1).trim())
          }
        }
      })
      response.on('close', onEnd)
      resolve({ids, comments, close: () => req.destroy(), ended})
    })
    req.on('error', reject)
    req.end()
  })
}

async function waitUntil(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

describe('GET /events streaming', () => {
  let server: ServeServer | undefined

  afterEach(async () => {
    await server?.stop()
    server = undefined
  })

  it('sends heartbeat comments on idle streams', async () => {
    server = await startServeServer({sse: {heartbeatMs: 50}})
    const stream = await readStream(`${server.url}/events`)

    await waitUntil(() => stream.comments.filter((comment) => comment === 'heartbeat').length >= 2)

    expect(stream.comments[0]).toBe('connected')
    stream.close()
  })

  it('disconnects a client that stops reading, while a reading client gets every event', async () => {
    server = await startServeServer({sse: {maxBufferedBytes: 1024 * 1024}})
    const fast = await readStream(`${server.url}/events`)
    // A client that sends its request and then never reads a byte.
    const slow = connect(server.port, '127.0.0.1')
    slow.pause()
    let slowClosed = false
    slow.on('close', () => (slowClosed = true))
    slow.on('error', () => {})
    slow.write(`GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`)
    await waitUntil(() => server!.hub.metrics().subscribers === 2)

    const reason = 'x'.repeat(20_000)
    const total = 2_000
    for (let eventId = 1; eventId <= total; eventId++) {
      server.hub.publish(payload(eventId, reason))
      if (eventId % 10 === 0) await new Promise((resolve) => setImmediate(resolve))
    }
    await waitUntil(() => fast.ids.length === total, 30_000)
    await waitUntil(() => server!.hub.metrics().subscribers === 1, 10_000)
    // Once it reads again, it finds its connection closed by the server.
    slow.resume()
    await waitUntil(() => slowClosed, 10_000)

    expect(fast.ids).toEqual(Array.from({length: total}, (_, i) => i + 1))
    const metrics = server.hub.metrics()
    expect(metrics.dropped).toBeGreaterThan(0)
    expect(metrics.subscribers).toBe(1)
    fast.close()
    slow.destroy()
  })
})
