/**
 * Lambda entry of the Twilio status webhook (API Gateway HTTP API, payload
 * 2.0, `POST /webhooks/twilio`). An adapter only: the database and keyring
 * are built on the first invocation and reused while the container is warm;
 * the work is src/pipeline/twilio-webhook's, the same code the local server
 * mounts. PostgreSQL is opened directly so the bundle holds no SQLite driver.
 */
import {createLogger, LOG_LEVELS, type LogLevel} from '../cli/logger.js'
import {Keyring} from '../crypto/encryption-key.js'
import type {ApiGatewayProxyEventV2, ApiGatewayProxyResultV2} from '../pipeline/aws-events.js'
import {lambdaPoolSize} from '../lambda/pool-size.js'
import {openLambdaDatabase} from '../pipeline/send/lambda-database.js'
import {createTwilioWebhookProcessor, type TwilioWebhookProcessor} from '../pipeline/twilio-webhook/index.js'

let processor: Promise<TwilioWebhookProcessor> | undefined

async function build(): Promise<TwilioWebhookProcessor> {
  const get = (name: string) => process.env[name]
  const url = get('DATABASE_URL')
  if (!url) throw new Error('DATABASE_URL is not set for the Twilio webhook.')
  const publicBaseUrl = get('WEBHOOK_BASE_URL')
  if (!publicBaseUrl) throw new Error('WEBHOOK_BASE_URL is not set: Twilio signatures are checked against the public URL it names.')
  const keyring = Keyring.fromSettings(get)
  const database = await openLambdaDatabase(url, {poolSize: lambdaPoolSize(get, 4)})
  const level = get('LOG_LEVEL') as LogLevel | undefined
  const logger = createLogger(level && LOG_LEVELS.includes(level) ? level : 'info')
  return createTwilioWebhookProcessor({database, keyring, publicBaseUrl, logger})
}

export async function handler(event: ApiGatewayProxyEventV2): Promise<ApiGatewayProxyResultV2> {
  processor ??= build().catch((error: unknown) => {
    // A failed start is not cached: the next invocation tries again (Twilio retries the callback meanwhile).
    processor = undefined
    throw error
  })
  return (await processor)(event)
}
