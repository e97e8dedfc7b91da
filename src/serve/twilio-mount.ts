import type {Settings} from '../config/env.js'
import type {Database} from '../db/database.js'
import type {TwilioWebhookHandler} from './routes/twilio-webhook.js'

/**
 * The Twilio status-callback processor mounted on POST /webhooks/twilio.
 * Undefined while the processor (src/pipeline/twilio-webhook/) is not part of
 * this build: the route then answers 503 and the rest of serve works.
 */
export async function mountTwilioWebhook(_deps: {database: Database; settings: Settings}): Promise<TwilioWebhookHandler | undefined> {
  return undefined
}
