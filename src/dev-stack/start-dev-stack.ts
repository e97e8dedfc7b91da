import {createServer} from 'node:net'
import {startStatusForwarder, type StatusForwarderLoop} from '../backend-status/forwarder.js'
import type {Logger} from '../cli/logger.js'
import {Settings} from '../config/env.js'
import {updateDotenv} from '../config/dotenv-writer.js'
import {Keyring} from '../crypto/encryption-key.js'
import type {Database} from '../db/database.js'
import {deployLocal} from '../deploy/deploy-local.js'
import {startServeApp, type ServeApp} from '../serve/serve-app.js'
import {mountTwilioWebhook} from '../serve/twilio-mount.js'
import {startTwilioSandbox, type TwilioSandbox} from '../twilio-sandbox/index.js'
import {devSandboxSeed, devSecrets, DEV_ACCOUNT_SID, DEV_MESSAGING_SERVICE_SID, DEV_SMS_SENDERS, DEV_WHATSAPP_SENDER, type DevUrls} from './dev-env.js'
import {startSesEmulator, startSqsEmulator, type ChildEmulator} from './emulators.js'
import {waitForMigratedSchema} from './wait-for-schema.js'
import {startDevWorkers, type DevWorkers} from './workers.js'
import {listenOn} from '../net/listen.js'

export interface DevStackPorts {
  serve: number
  twilio: number
  sqs: number
  ses: number
}

/** Fixed by default, so .env and the webhook URL stored with a seeded tenant stay right across restarts; 0 picks a free port. */
export const DEFAULT_DEV_PORTS: DevStackPorts = {serve: 8787, twilio: 4010, sqs: 9324, ses: 8005}

export interface DevStackOptions {
  database: Database
  /** The settings the command read (environment, then .env); the stack's own URLs and secrets are layered over them. */
  settings: Settings
  logger: Logger
  dotenvPath: string
  ports?: Partial<DevStackPorts>
  region?: string
  /** Aborting before the schema is migrated stops the start-up cleanly. */
  signal: AbortSignal
  /** Called once .env is written, before waiting for the schema: what the operator copies into the other terminal. */
  onUrls?: (info: DevStackInfo) => void
}

export interface DevStackInfo {
  urls: DevUrls
  twilio: {accountSid: string; messagingServiceSid: string; smsFrom: string; whatsappFrom: string}
  /** .env keys this start generated (secrets: never printed, only named). */
  generatedSecrets: string[]
  dotenvPath: string
}

export interface DevStack extends DevStackInfo {
  /** False when the stack was stopped before the database was migrated (nothing after the emulators started). */
  ready: boolean
  stop(): Promise<void>
}

/**
 * `engage dev` without the CLI: the whole local stack on 127.0.0.1.
 * 1. the SQS emulator (fauxqs) and SES emulator (aws-ses-v2-local) as child
 *    processes, the Twilio sandbox in process with a fixed account and
 *    messaging service ({@link devSandboxSeed});
 * 2. the queues through `deployLocal` (the stack's queue definition) and
 *    .env updated with every URL plus any secret it had to generate
 *    (ENCRYPTION_KEY, BACKEND_STATUS_WEBHOOK_SECRET, TWILIO_AUTH_TOKEN: all
 *    local-only), other keys untouched;
 * 3. once `engage migrate up` has run: `engage serve` (webhook, status
 *    intake, SSE), its forwarder posting to itself, and the workers of both
 *    queues.
 * `stop()` closes everything in reverse order and is safe to call twice.
 */
export async function startDevStack(options: DevStackOptions): Promise<DevStack> {
  const ports = {...DEFAULT_DEV_PORTS, ...options.ports}
  const region = options.region ?? 'us-east-1'
  const secrets = devSecrets((name) => options.settings.get(name))
  const stoppers: Array<() => Promise<unknown>> = []
  let stopping: Promise<void> | undefined
  const stop = () =>
    (stopping ??= (async () => {
      for (const stopOne of stoppers.reverse()) await stopOne().catch((error: unknown) => options.logger.warn(`Stopping: ${(error as Error)?.message ?? String(error)}`))
    })())

  try {
    const keyring = Keyring.fromSettings((name) => (name === 'ENCRYPTION_KEY' ? secrets.encryptionKey : options.settings.get(name)))
    // Both settle before either failure is raised, so a started one is always stopped.
    const started = await Promise.allSettled([startSqsEmulator({port: ports.sqs, region}), startSesEmulator({port: ports.ses})])
    for (const result of started) if (result.status === 'fulfilled') stoppers.push(() => result.value.stop())
    for (const result of started) if (result.status === 'rejected') throw result.reason
    const [sqs, ses] = started.map((result) => (result as PromiseFulfilledResult<ChildEmulator>).value)
    const sandbox: TwilioSandbox = await startTwilioSandbox({port: ports.twilio, seed: devSandboxSeed(secrets.twilioAuthToken)})
    stoppers.push(() => sandbox.stop())
    const servePort = ports.serve === 0 ? await freePort() : ports.serve
    const serveUrl = `http://127.0.0.1:${servePort}`

    const deployed = await deployLocal({env: 'local', endpoint: sqs!.url, region, dotenvPath: options.dotenvPath})
    const urls: DevUrls = {
      TWILIO_API_BASE_URL: sandbox.url,
      SQS_ENDPOINT: deployed.endpoint,
      SQS_QUEUE_URL: deployed.queues.queueUrl,
      SQS_DLQ_URL: deployed.queues.dlqUrl,
      SES_ENDPOINT: ses!.url,
      WEBHOOK_BASE_URL: serveUrl,
      ENGAGE_SERVE_URL: serveUrl,
      BACKEND_STATUS_WEBHOOK_URL: `${serveUrl}/internal/message-status`,
    }
    const generatedValues: Record<string, string> = {
      ENCRYPTION_KEY: secrets.encryptionKey,
      BACKEND_STATUS_WEBHOOK_SECRET: secrets.statusWebhookSecret,
      TWILIO_AUTH_TOKEN: secrets.twilioAuthToken,
    }
    updateDotenv(options.dotenvPath, {...urls, ...Object.fromEntries(secrets.generated.map((name) => [name, generatedValues[name]!]))})
    const info: DevStackInfo = {
      urls,
      twilio: {accountSid: DEV_ACCOUNT_SID, messagingServiceSid: DEV_MESSAGING_SERVICE_SID, smsFrom: DEV_SMS_SENDERS[0], whatsappFrom: DEV_WHATSAPP_SENDER},
      generatedSecrets: secrets.generated,
      dotenvPath: options.dotenvPath,
    }
    options.onUrls?.(info)

    if (!(await waitForMigratedSchema({database: options.database, settings: options.settings, logger: options.logger, signal: options.signal}))) {
      return {...info, ready: false, stop}
    }
    // The stack's own values win over whatever the environment says, for everything started in this process.
    const own = new Map<string, string>([...Object.entries(urls), ...Object.entries(generatedValues)])
    const get = (name: string) => own.get(name) ?? options.settings.get(name)
    const serveSettings = new Settings(Object.fromEntries(own) as NodeJS.ProcessEnv, {})
    const serve: ServeApp = await startServeApp({
      database: options.database,
      port: servePort,
      host: '127.0.0.1',
      statusWebhookSecret: secrets.statusWebhookSecret,
      twilioWebhook: (serverUrl) => mountTwilioWebhook({database: options.database, settings: serveSettings, logger: options.logger, serverUrl}),
      logger: options.logger,
    })
    stoppers.push(() => serve.stop())
    const forwarder: StatusForwarderLoop = startStatusForwarder({
      database: options.database,
      url: urls.BACKEND_STATUS_WEBHOOK_URL,
      secret: secrets.statusWebhookSecret,
      intervalMs: 500,
      onError: (error) => options.logger.warn(`Status forwarder: ${(error as Error)?.message ?? String(error)}`),
    })
    stoppers.push(() => forwarder.stop())
    const workers: DevWorkers = await startDevWorkers({database: options.database, keyring, get, logger: options.logger})
    stoppers.push(() => workers.stop())
    return {...info, ready: true, stop}
  } catch (error) {
    await stop()
    throw error
  }
}

/** A port nothing listens on right now: bound on 0, then released (serve needs its URL in .env before it starts). */
async function freePort(): Promise<number> {
  const server = createServer()
  const port = await listenOn(server, 0, '127.0.0.1')
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}
