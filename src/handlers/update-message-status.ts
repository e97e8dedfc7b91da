/**
 * Lambda entry of UpdateMessageStatus (EventBridge schedule, every minute).
 * An adapter only: the database and keyring are built on the first
 * invocation and reused while the container is warm; the work is
 * src/pipeline/status-update's. PostgreSQL is opened directly so the bundle
 * holds no SQLite driver. The result is returned (and logged) for the
 * function's CloudWatch record.
 */
import {createLogger, LOG_LEVELS, type Logger, type LogLevel} from '../cli/logger.js'
import {Keyring} from '../crypto/encryption-key.js'
import type {Database} from '../db/database.js'
import type {ScheduledEvent} from '../pipeline/aws-events.js'
import {lambdaPoolSize} from '../lambda/pool-size.js'
import {openLambdaDatabase} from '../pipeline/send/lambda-database.js'
import {runStatusUpdate, type StatusUpdateResult} from '../pipeline/status-update/index.js'
import {preloadTwilio} from '../providers/twilio/twilio-client.js'

interface Clients {
  database: Database
  keyring: Keyring
  logger: Logger
}

const get = (name: string) => process.env[name]
let clients: Promise<Clients> | undefined

async function build(): Promise<Clients> {
  const url = get('DATABASE_URL')
  if (!url) throw new Error('DATABASE_URL is not set for UpdateMessageStatus.')
  const keyring = Keyring.fromSettings(get)
  // Reconciling asks Twilio through the provider factory, whose require('twilio') finds no
  // node_modules in a zip: the literal import here is what puts the SDK in the bundle.
  await preloadTwilio()
  const database = await openLambdaDatabase(url, {poolSize: lambdaPoolSize(get, 2)})
  const level = get('LOG_LEVEL') as LogLevel | undefined
  return {database, keyring, logger: createLogger(level && LOG_LEVELS.includes(level) ? level : 'info')}
}

export async function handler(event: ScheduledEvent): Promise<StatusUpdateResult> {
  clients ??= build().catch((error: unknown) => {
    clients = undefined
    throw error
  })
  const {database, keyring, logger} = await clients
  const staleAfterMs = Number(get('STATUS_STALE_AFTER_MS')) || undefined
  logger.debug(`UpdateMessageStatus run for the schedule at ${event?.time ?? 'an unknown time'}`)
  const result = await runStatusUpdate({database, keyring, get, logger, staleAfterMs})
  logger.info(`UpdateMessageStatus: ${JSON.stringify(result)}`)
  return result
}
