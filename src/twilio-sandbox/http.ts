import type {IncomingMessage, ServerResponse} from 'node:http'
import {timingSafeEqual} from 'node:crypto'

export type FormParams = Record<string, string | string[]>

/** What a route answers: a status and a JSON body. */
export interface RouteResult {
  status: number
  body: unknown
}

const MAX_BODY_BYTES = 1024 * 1024

export async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of request) {
    size += (chunk as Buffer).length
    if (size > MAX_BODY_BYTES) throw new Error('request body too large')
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** Form or query parameters; a repeated name (`MediaUrl=a&MediaUrl=b`) becomes an array. */
export function parseForm(text: string | URLSearchParams): FormParams {
  const params = typeof text === 'string' ? new URLSearchParams(text) : text
  const out: FormParams = {}
  for (const [name, value] of params) {
    const existing = out[name]
    if (existing === undefined) out[name] = value
    else out[name] = Array.isArray(existing) ? [...existing, value] : [existing, value]
  }
  return out
}

/** The first value of a form parameter, if any. */
export function single(params: FormParams, name: string): string | undefined {
  const value = params[name]
  return Array.isArray(value) ? value[0] : value
}

export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  response.writeHead(status, {'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text)})
  response.end(text)
}

/** Username and password of an HTTP Basic `Authorization` header. */
export function basicCredentials(header: string | undefined): {username: string; password: string} | undefined {
  const match = /^Basic\s+(.+)$/i.exec(header ?? '')
  if (!match?.[1]) return undefined
  const decoded = Buffer.from(match[1], 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon === -1) return undefined
  return {username: decoded.slice(0, colon), password: decoded.slice(colon + 1)}
}

export function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a)
  const right = Buffer.from(b)
  return left.length === right.length && timingSafeEqual(left, right)
}
