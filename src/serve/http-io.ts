import type {IncomingMessage, ServerResponse} from 'node:http'

/** Request bodies larger than this are refused with 413 (webhook bodies are a few KB). */
export const MAX_BODY_BYTES = 64 * 1024
/** Past this much refused input the connection is cut instead of drained. */
const MAX_DRAIN_BYTES = 16 * 1024 * 1024

export type BodyRead = {ok: true; body: Buffer} | {ok: false; reason: 'too_large'}

/**
 * Reads a request body up to `limit` bytes. A larger body is drained (and
 * discarded) before answering, so the client reads the 413 instead of a
 * reset connection; beyond 16 MB the socket is cut.
 */
export function readBody(request: IncomingMessage, limit = MAX_BODY_BYTES): Promise<BodyRead> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    request.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size <= limit) chunks.push(chunk)
      else if (size > MAX_DRAIN_BYTES) request.destroy()
    })
    request.once('end', () => resolve(size > limit ? {ok: false, reason: 'too_large'} : {ok: true, body: Buffer.concat(chunks)}))
    request.once('error', reject)
    request.once('close', () => {
      if (!request.complete) reject(new Error('the request was aborted'))
    })
  })
}

export function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body)
  response.writeHead(status, {'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text)), ...headers})
  response.end(text)
}

/** An error body: a stable code and a sentence saying what was wrong. */
export function sendError(response: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  sendJson(response, status, {error: {code, message}}, headers)
}

export function sendTooLarge(response: ServerResponse, limit = MAX_BODY_BYTES): void {
  sendError(response, 413, 'BODY_TOO_LARGE', `The request body is larger than ${limit} bytes.`, {connection: 'close'})
}
