/** The Twilio status callback handler (Lambda and local server). */
export {createTwilioWebhookProcessor, type TwilioWebhookDeps, type TwilioWebhookProcessor} from './processor.js'
export {MAX_CALLBACK_BYTES, parseCallbackEvent, signedUrl, type ReceivedCallback} from './parse-callback.js'
export {TwilioAuthTokens, type TenantTwilioAccount} from './auth-tokens.js'
