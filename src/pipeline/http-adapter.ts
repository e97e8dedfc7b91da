import {randomUUID} from 'node:crypto'
import type {IncomingMessage, ServerResponse} from 'node:http'
import type {ApiGatewayProxyEventV2, ApiGatewayProxyResultV2} from './aws-events.js'

/**
 * Turns a node:http request and its body into the API Gateway HTTP API v2
 * event the Lambda handlers take, so the same handler serves `engage serve`
 * and tests over a real socket. Like API Gateway: header names lower-case,
 * repeated headers joined with ", ", and a body that is not text or JSON
 * (form posts included) base64-encoded with isBase64Encoded set.
 */
export function toApiGatewayEvent(req: IncomingMessage, body: Buffer | string): ApiGatewayProxyEventV2 {
  const url = new URL(req.url ?? '/', 'http://localhost')
  const headers: Record<string, string> = {}
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!.toLowerCase()
    const value = req.rawHeaders[i + 1]!
    if (name === 'cookie') continue
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`
  }
  const cookies = req.headers.cookie ? req.headers.cookie.split(/;\s*/).filter(Boolean) : undefined
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body
  const textual = /^(text\/|application\/json)/i.test(headers['content-type'] ?? '')
  const query: Record<string, string> = {}
  for (const [key, value] of url.searchParams) query[key] = key in query ? `${query[key]},${value}` : value
  const method = (req.method ?? 'GET').toUpperCase()
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    ...(cookies ? {cookies} : {}),
    ...(url.search ? {queryStringParameters: query} : {}),
    requestContext: {
      requestId: randomUUID(),
      timeEpoch: Date.now(),
      domainName: headers.host,
      stage: '$default',
      http: {
        method,
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '',
        userAgent: headers['user-agent'] ?? '',
      },
    },
    ...(bytes.length > 0 ? {body: textual ? bytes.toString('utf8') : bytes.toString('base64')} : {}),
    isBase64Encoded: bytes.length > 0 && !textual,
  }
}

/**
 * One request header as API Gateway (and toApiGatewayEvent) reports it:
 * looked up by its lower-case name, repeated values joined with ", ".
 * For handlers that read a few headers without building the whole event.
 */
export function requestHeader(req: IncomingMessage, name: string): string | undefined {
  const raw = req.rawHeaders
  let value: string | undefined
  for (let i = 0; i < raw.length; i += 2) {
    const candidate = raw[i]!
    if (candidate.length === name.length && candidate.toLowerCase() === name) value = value === undefined ? raw[i + 1]! : `${value}, ${raw[i + 1]!}`
  }
  return value
}

/**
 * Reads a request body up to `limitBytes`. Past the limit it stops buffering
 * (the rest is drained and dropped) and reports `tooLarge`, so a 1 MB post
 * costs no more memory than the limit.
 */
export function readRequestBody(req: IncomingMessage, limitBytes: number): Promise<{body: Buffer; tooLarge: boolean}> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    let tooLarge = false
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > limitBytes) tooLarge = true
      if (!tooLarge) chunks.push(chunk)
    })
    req.on('end', () => resolve({body: tooLarge ? Buffer.alloc(0) : Buffer.concat(chunks), tooLarge}))
    req.on('error', reject)
  })
}

/** Writes an API Gateway v2 result to a node:http response. */
export function writeApiGatewayResult(res: ServerResponse, result: ApiGatewayProxyResultV2): void {
  const body = result.isBase64Encoded ? Buffer.from(result.body, 'base64') : Buffer.from(result.body, 'utf8')
  res.writeHead(result.statusCode, {...result.headers, 'content-length': String(body.length)})
  res.end(body)
}
