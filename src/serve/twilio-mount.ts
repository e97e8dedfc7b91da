import {notifyStatusApplied} from '../backend-status/status-applied.js'
import type {Logger} from '../cli/logger.js'
import type {Settings} from '../config/env.js'
import {Keyring} from '../crypto/encryption-key.js'
import type {Database} from '../db/database.js'
import {requestHeader} from '../pipeline/http-adapter.js'
import {createTwilioCallbackHandler, type TwilioCallbackHandler} from '../pipeline/twilio-webhook/index.js'
import type {TwilioWebhookHandler} from './routes/twilio-webhook.js'

/**
 * The Twilio status-callback processor (src/pipeline/twilio-webhook/, the
 * Lambda's code) mounted on POST /webhooks/twilio: the node:http request is
 * handed over as the same CallbackRequest the Lambda derives from its API
 * Gateway event. Signatures are checked against WEBHOOK_BASE_URL, or this
 * server's own URL when that is unset (the local flow, where the sandbox calls us
 * directly). Each applied status kicks the forwarder loops of this process.
 * Without ENCRYPTION_KEY, tenants' auth tokens cannot be opened: the route
 * stays off (503) and the rest of serve works.
 */
export function mountTwilioWebhook(deps: {
  database: Database
  settings: Settings
  logger: Logger
  /** This server's base URL, known once it listens. */
  serverUrl: () => string
}): TwilioWebhookHandler | undefined {
  const get = (name: string) => deps.settings.get(name)
  if (!get('ENCRYPTION_KEY')) {
    deps.logger.warn('ENCRYPTION_KEY is not set: POST /webhooks/twilio answers 503 (tenant auth tokens cannot be opened).')
    return undefined
  }
  const keyring = Keyring.fromSettings(get)
  const configuredBase = get('WEBHOOK_BASE_URL')?.trim() || undefined
  let handle: TwilioCallbackHandler | undefined
  // The forwarder is kicked after the answers are written, once for all the statuses a turn applied.
  let kickScheduled = false
  const kickForwarder = () => {
    if (kickScheduled) return
    kickScheduled = true
    setImmediate(() => {
      kickScheduled = false
      notifyStatusApplied()
    })
  }
  return (request, body, url) => {
    handle ??= createTwilioCallbackHandler({
      database: deps.database,
      keyring,
      publicBaseUrl: configuredBase ?? deps.serverUrl(),
      logger: deps.logger,
      onApplied: kickForwarder,
    })
    // The request as the Lambda would see it, without building the whole API Gateway event.
    return handle({method: request.method ?? 'GET', pathAndQuery: url.pathname + url.search, header: (name) => requestHeader(request, name), body})
  }
}
