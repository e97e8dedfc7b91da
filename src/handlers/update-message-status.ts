/**
 * Lambda entry of UpdateMessageStatus (EventBridge schedule, every minute).
 * An adapter only: the database and keyring are built on the first
 * invocation and reused while the container is warm; the work is
 * src/pipeline/status-update's. PostgreSQL is opened directly so the bundle
 * holds no SQLite driver. The result is returned (and logged) for the
 * function's CloudWatch record. After the status run it posts the applied
 * statuses still undelivered to the backend (BACKEND_STATUS_WEBHOOK_URL).
 */
import {createLogger, LOG_LEVELS, type Logger, type LogLevel} from '../cli/logger.js'
import {Keyring} from '../crypto/encryption-key.js'
import type {Database} from '../db/database.js'
import type {ScheduledEvent} from '../pipeline/aws-events.js'
import {forwardToConfiguredBackend} from '../backend-status/forward-configured.js'
import type {ForwardResult} from '../backend-status/forwarder.js'
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

/** Time kept free at the end of a run: forwarding starts no new round this close to the Lambda timeout. */
const FORWARD_RESERVE_MS = 15_000

export async function handler(
  event: ScheduledEvent,
  context?: {getRemainingTimeInMillis?: () => number},
): Promise<StatusUpdateResult & {forwarded?: ForwardResult}> {
  clients ??= build().catch((error: unknown) => {
    clients = undefined
    throw error
  })
  const {database, keyring, logger} = await clients
  const staleAfterMs = Number(get('STATUS_STALE_AFTER_MS')) || undefined
  logger.debug(`UpdateMessageStatus run for the schedule at ${event?.time ?? 'an unknown time'}`)
  const result = await runStatusUpdate({database, keyring, get, logger, staleAfterMs})
  // The schedule is what guarantees delivery to the backend in AWS: every applied status,
  // from the sender, the webhook or this run, waits in the database until a run posts it.
  const remaining = context?.getRemainingTimeInMillis?.()
  const deadline = remaining === undefined ? undefined : Date.now() + Math.max(0, remaining - FORWARD_RESERVE_MS)
  const forwarded = await forwardToConfiguredBackend(database, get, {logger, deadline})
  const summary = forwarded ? {...result, forwarded} : result
  logger.info(`UpdateMessageStatus: ${JSON.stringify(summary)}`)
  return summary
}
