/** The Twilio status callback handler (Lambda and local server). */
export {createTwilioCallbackHandler, createTwilioWebhookProcessor, type TwilioCallbackHandler, type TwilioWebhookDeps, type TwilioWebhookProcessor} from './processor.js'
export {MAX_CALLBACK_BYTES, callbackRequestOf, parseCallback, signedUrl, type CallbackRequest, type ReceivedCallback} from './parse-callback.js'
export {TwilioAuthTokens, type TenantTwilioAccount} from './auth-tokens.js'
