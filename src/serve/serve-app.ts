import {startStatusForwarder, type StatusForwarderLoop} from '../backend-status/forwarder.js'
import type {BackoffPolicy} from '../backend-status/backoff.js'
import type {Logger} from '../cli/logger.js'
import type {Database} from '../db/database.js'
import {DatabaseError, UsageError} from '../errors/engage-error.js'
import {parseWebhookSecret} from '../webhooks/standard-webhooks.js'
import type {TwilioWebhookHandler} from './routes/twilio-webhook.js'
import {ROUTES, startServeServer, type ServeServer} from './server.js'

export interface ServeAppOptions {
  database: Database
  host?: string
  port?: number
  /** BACKEND_STATUS_WEBHOOK_URL: when set, the status forwarder runs in this process. */
  statusWebhookUrl?: string
  /** BACKEND_STATUS_WEBHOOK_SECRET: verifies POST /internal/message-status, and signs what the forwarder sends. */
  statusWebhookSecret?: string
  /** How often the forwarder looks for due statuses besides being kicked (default 1 s). */
  forwardIntervalMs?: number
  forwardBackoff?: Partial<BackoffPolicy>
  /** Built once the server's URL is known (the Twilio route may verify signatures against it). */
  twilioWebhook?: (serverUrl: () => string) => TwilioWebhookHandler | undefined
  logger: Logger
}

export interface ServeApp {
  server: ServeServer
  forwarder?: StatusForwarderLoop
  /** The endpoints, for printing. */
  urls: Record<keyof typeof ROUTES, string>
  stop(): Promise<void>
}

/**
 * `engage serve` without the CLI: the HTTP server plus, when a backend URL is
 * configured, the status forwarder loop, kicked (through notifyStatusApplied)
 * whenever the Twilio webhook applies a status. Configuration mistakes throw UsageErrors that name the
 * variable, never its value.
 */
export async function startServeApp(options: ServeAppOptions): Promise<ServeApp> {
  const secret = options.statusWebhookSecret?.trim() || undefined
  if (secret !== undefined) parseWebhookSecret(secret)
  const forwardUrl = options.statusWebhookUrl?.trim() || undefined
  if (forwardUrl !== undefined) {
    if (!isHttpUrl(forwardUrl)) {
      throw new UsageError('BACKEND_STATUS_WEBHOOK_URL is not an http(s) URL.', {
        code: 'STATUS_WEBHOOK_URL_INVALID',
        suggestions: ['Set it to the backend endpoint, e.g. http://127.0.0.1:8787/internal/message-status for this server.'],
      })
    }
    if (secret === undefined) {
      throw new UsageError('BACKEND_STATUS_WEBHOOK_URL is set but BACKEND_STATUS_WEBHOOK_SECRET is not: statuses cannot be signed.', {
        code: 'STATUS_WEBHOOK_SECRET_MISSING',
        suggestions: ['Set BACKEND_STATUS_WEBHOOK_SECRET to the whsec_… secret the backend verifies with, or unset BACKEND_STATUS_WEBHOOK_URL.'],
      })
    }
  }

  await assertStatusSchema(options.database)

  let forwarder: StatusForwarderLoop | undefined
  let serverUrl = ''
  const twilioWebhook = options.twilioWebhook?.(() => serverUrl)
  const server = await startServeServer({
    host: options.host,
    port: options.port,
    statusWebhookSecrets: secret === undefined ? [] : [secret],
    twilioWebhook,
    health: () => ({forwarder: forwarder ? forwarder.stats() : null, twilioWebhook: twilioWebhook !== undefined}),
  })
  serverUrl = server.url
  if (forwardUrl !== undefined && secret !== undefined) {
    forwarder = startStatusForwarder({
      database: options.database,
      url: forwardUrl,
      secret,
      intervalMs: options.forwardIntervalMs ?? 1_000,
      backoff: options.forwardBackoff,
      onError: (error) => options.logger.warn(`Status forwarder: ${(error as Error)?.message ?? String(error)}`),
    })
  }
  const urls = Object.fromEntries(Object.entries(ROUTES).map(([name, path]) => [name, server.url + path])) as ServeApp['urls']
  let stopping: Promise<void> | undefined
  return {
    server,
    forwarder,
    urls,
    stop() {
      stopping ??= (async () => {
        await forwarder?.stop()
        await server.stop()
      })()
      return stopping
    },
  }
}

/**
 * Fails at start, not at the first status, when the database lacks the forwarder's columns
 * (migration 0005). Also the first query, which makes the pool live so closing it ends it.
 */
async function assertStatusSchema(database: Database): Promise<void> {
  try {
    await database.db.selectFrom('message_status_events').select(['applied', 'backend_delivered_at', 'backend_next_attempt_at']).limit(1).execute()
  } catch (error) {
    throw new DatabaseError(`The database at ${database.target.display} has no status forwarding columns: ${(error as Error).message}`, {
      code: 'SCHEMA_NOT_MIGRATED',
      cause: error,
      suggestions: ['Run `engage migrate up` against this database first.'],
    })
  }
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value)
    return url.protocol === 'http:' || url.protocol === 'https:'
  } catch {
    return false
  }
}
