/**
 * A real node:http server in front of an API Gateway v2 handler, the way
 * `engage serve` mounts one: the request becomes an event through
 * toApiGatewayEvent (src/pipeline/http-adapter.ts), the result is written
 * back. Bodies past the limit are answered 413 without buffering them.
 */
import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import type {ApiGatewayProxyEventV2, ApiGatewayProxyResultV2} from '../../src/pipeline/aws-events.js'
import {readRequestBody, toApiGatewayEvent, writeApiGatewayResult} from '../../src/pipeline/http-adapter.js'

export interface WebhookServer {
  url: string
  port: number
  /** Requests answered, by status code. */
  answered: Map<number, number>
  close(): Promise<void>
}

export async function startWebhookServer(
  handler: (event: ApiGatewayProxyEventV2) => Promise<ApiGatewayProxyResultV2>,
  options: {limitBytes?: number} = {},
): Promise<WebhookServer> {
  const limit = options.limitBytes ?? 64 * 1024
  const answered = new Map<number, number>()
  const count = (status: number) => answered.set(status, (answered.get(status) ?? 0) + 1)
  const server: Server = createServer((req, res) => {
    void (async () => {
      const {body, tooLarge} = await readRequestBody(req, limit)
      const result = tooLarge
        ? {statusCode: 413, headers: {'content-type': 'application/json'}, body: JSON.stringify({error: `The body is larger than ${limit} bytes.`})}
        : await handler(toApiGatewayEvent(req, body))
      count(result.statusCode)
      writeApiGatewayResult(res, result)
    })().catch((error: unknown) => {
      count(500)
      if (!res.headersSent) res.writeHead(500, {'content-type': 'text/plain'})
      res.end(String((error as Error).message))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    answered,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
