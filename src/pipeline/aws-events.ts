/**
 * The few AWS Lambda event shapes engage's handlers receive, written out
 * instead of depending on @types/aws-lambda: only the fields the handlers and
 * the local adapters use, named as AWS names them.
 */

/** API Gateway HTTP API (payload format 2.0) request. Header names are lower-case; repeated headers are joined with commas. */
export interface ApiGatewayProxyEventV2 {
  version: '2.0'
  routeKey: string
  rawPath: string
  rawQueryString: string
  headers: Record<string, string | undefined>
  cookies?: string[]
  queryStringParameters?: Record<string, string | undefined>
  requestContext: {
    accountId?: string
    apiId?: string
    domainName?: string
    stage?: string
    requestId: string
    timeEpoch: number
    http: {method: string; path: string; protocol: string; sourceIp: string; userAgent: string}
  }
  body?: string
  isBase64Encoded: boolean
}

/** API Gateway HTTP API (payload format 2.0) response. */
export interface ApiGatewayProxyResultV2 {
  statusCode: number
  headers?: Record<string, string>
  body: string
  isBase64Encoded?: boolean
}

/** EventBridge scheduled event ("Scheduled Event" detail type). */
export interface ScheduledEvent {
  version?: string
  id: string
  'detail-type': string
  source: string
  account?: string
  time: string
  region?: string
  resources?: string[]
  detail?: unknown
}
