/**
 * A local Twilio-compatible sandbox: start it in process with
 * `startTwilioSandbox`, or drive one in another process with
 * `connectTwilioSandbox`. Point the SDK at it with `createTwilioClient`'s
 * `baseUrl` (src/providers/twilio/twilio-client.ts).
 */
export {startTwilioSandbox, type TwilioSandbox, type TwilioSandboxOptions} from './server.js'
export {connectTwilioSandbox} from './control-client.js'
export type {SeedSummary, TwilioSandboxControl} from './control.js'
export type {BehaviourInput, BehaviourPatch, CallbackBehaviour, DeliveryFailure, SandboxBehaviour, SendFailureRule} from './faults.js'
export {defaultSeed, parseSeed, type AccountStatus, type SandboxSeed, type SeedAccount, type SeedService} from './seed.js'
export type {CallbackDelivery, MessageStatus, SandboxCounters, SendCounter} from './state/store.js'
export {twilioSignature} from './signature.js'
export {redactSecret} from './ids.js'
