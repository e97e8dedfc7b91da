import type {Logger} from '../../cli/logger.js'
import type {Keyring} from '../../crypto/encryption-key.js'
import {inWriteTransaction, type Database} from '../../db/database.js'
import {GroupCommit} from '../../db/group-commit.js'
import type {QuerySteps} from '../../db/query-steps.js'
import {
  applyStatus,
  applyStatusSteps,
  findMessageByProviderId,
  fromProviderStatus,
  keepPendingCallback,
  lockProviderMessageId,
  twilioReason,
  type ApplyStatusResult,
  type MessageStatus,
  type StatusUpdate,
} from '../../messages/index.js'
import {validateTwilioSignature} from '../../webhooks/twilio-signature.js'
import type {ApiGatewayProxyEventV2, ApiGatewayProxyResultV2} from '../aws-events.js'
import {TwilioAuthTokens, type TenantTwilioAccount} from './auth-tokens.js'
import {findCallbackMessage, settingsOf} from './callback-message.js'
import {callbackRequestOf, parseCallback, signedUrl, type CallbackRequest, type ReceivedCallback} from './parse-callback.js'

export interface TwilioWebhookDeps {
  database: Database
  keyring: Keyring
  /** WEBHOOK_BASE_URL: the public origin (and path prefix) Twilio calls; signatures are checked against it, never the Host header. */
  publicBaseUrl: string
  /** Called with the ids of the status events this callback applied (none for a duplicate, a backwards move or a kept callback). */
  onApplied?: (eventIds: number[]) => void
  logger?: Logger
  now?: () => Date
}

export type TwilioWebhookProcessor = (event: ApiGatewayProxyEventV2) => Promise<ApiGatewayProxyResultV2>

/** What Twilio gets back for a handled callback: an empty TwiML document. */
const TWIML_OK: ApiGatewayProxyResultV2 = {statusCode: 200, headers: {'content-type': 'text/xml'}, body: '<?xml version="1.0" encoding="UTF-8"?><Response/>'}

/**
 * The Twilio status callback handler, shared by the Lambda
 * (src/handlers/twilio-webhook.ts) and the local server: parse the form,
 * find who the callback claims to be about, check `X-Twilio-Signature`
 * against that tenant's auth token and the configured public URL, then
 * record the status through applyStatus (forward only; duplicates and
 * backwards moves are events with applied = 0). A callback for a SID no
 * message holds yet is verified against the tenants of its AccountSid and
 * kept in pending_status_callbacks until the sender stores the SID.
 *
 * The common case (the SID's message exists) is one write unit — find the
 * message with its tenant's credentials, verify, apply — group-committed
 * with the other callbacks of the same event-loop turn (GroupCommit): the
 * answer waits for COMMIT, so a 200 always means the status is stored.
 *
 * Answers: 200 + empty TwiML when recorded or kept; 400 for a malformed body
 * or a missing signature; 403 when the signature does not match or no tenant
 * can vouch for the callback; 405, 413, 415 as named. Nothing is written
 * unless the signature verified.
 */
export function createTwilioWebhookProcessor(deps: TwilioWebhookDeps): TwilioWebhookProcessor {
  const handle = createTwilioCallbackHandler(deps)
  return (event) => handle(callbackRequestOf(event))
}

/** The processor's work on a request either entry received (the Lambda's event, serve's node:http request). */
export type TwilioCallbackHandler = (request: CallbackRequest) => Promise<ApiGatewayProxyResultV2>

/** The handler behind createTwilioWebhookProcessor, for entries that hold the request rather than an API Gateway event. */
export function createTwilioCallbackHandler(deps: TwilioWebhookDeps): TwilioCallbackHandler {
  const tokens = new TwilioAuthTokens(deps.keyring)
  const writes = new GroupCommit(deps.database)
  const now = deps.now ?? (() => new Date())
  const reply = (statusCode: number, error: string): ApiGatewayProxyResultV2 => ({
    statusCode,
    headers: {'content-type': 'application/json'},
    body: JSON.stringify({error}),
  })
  const refuse = (callback: ReceivedCallback, reason: string) => {
    deps.logger?.warn(`Twilio callback for ${callback.messageSid} refused: ${reason}.`)
    return reply(403, 'The X-Twilio-Signature does not match this callback.')
  }

  return async (request) => {
    if (request.method.toUpperCase() !== 'POST') return {...reply(405, 'Twilio status callbacks are POSTs.'), headers: {'content-type': 'application/json', allow: 'POST'}}
    const parsed = parseCallback(request)
    if (!parsed.ok) return reply(parsed.statusCode, parsed.error)
    const callback = parsed.callback
    const url = signedUrl(deps.publicBaseUrl, request.pathAndQuery)
    const verifies = (account: TenantTwilioAccount) => validateTwilioSignature(account.authToken, callback.signature, url, callback.params, callback.algorithm)

    // Who may vouch for this callback: the tenant of the message holding the SID, or else the tenants of its account.
    const status = fromProviderStatus('twilio', callback.providerStatus)
    const outcome = await writes.run(() => knownMessageSteps(callback, status, verifies, now().toISOString()))
    if (outcome.kind === 'refused') return refuse(callback, outcome.reason)
    if (outcome.kind === 'unknown-status') return unknownStatus(callback)
    if (outcome.kind === 'recorded') {
      if (outcome.applied.outcome === 'applied') deps.onApplied?.([outcome.applied.eventId])
      return TWIML_OK
    }

    const candidates = await tokens.forAccount(deps.database.db, callback.accountSid)
    const vouching = candidates.filter(verifies)
    if (vouching.length === 0) return refuse(callback, candidates.length === 0 ? 'no tenant has credentials for it' : 'the signature does not match')
    if (!status) return unknownStatus(callback)
    const kept = await record(deps.database, callback, status, vouching.map((account) => account.tenantId), now().toISOString())
    if (kept === 'refused') return reply(403, 'The X-Twilio-Signature does not match this callback.')
    if (kept.length > 0) deps.onApplied?.(kept)
    return TWIML_OK
  }

  /**
   * The write unit of a callback about a message that holds its SID: find the message and its tenant's
   * credentials, check the signature, apply the status. Runs inside the group's write transaction, so
   * what it reads is what it writes over; a refused callback writes nothing.
   */
  function* knownMessageSteps(
    callback: ReceivedCallback,
    status: MessageStatus | undefined,
    verifies: (account: TenantTwilioAccount) => boolean,
    at: string,
  ): QuerySteps<KnownMessageOutcome> {
    const message = yield* findCallbackMessage(callback.messageSid)
    if (!message) return {kind: 'no-message'}
    const settings = settingsOf(message)
    const account = settings && tokens.accountOf(settings)
    if (!account) return {kind: 'refused', reason: 'no tenant has credentials for it'}
    if (!verifies(account)) return {kind: 'refused', reason: 'the signature does not match'}
    if (!status) return {kind: 'unknown-status'}
    return {kind: 'recorded', applied: yield* applyStatusSteps(statusUpdateOf(callback, message.id, status, at), message.status)}
  }

  function unknownStatus(callback: ReceivedCallback): ApiGatewayProxyResultV2 {
    return reply(400, `MessageStatus "${callback.providerStatus.slice(0, 32)}" is not a status of an outbound message.`)
  }
}

type KnownMessageOutcome =
  | {kind: 'recorded'; applied: ApplyStatusResult}
  | {kind: 'refused'; reason: string}
  | {kind: 'unknown-status'}
  | {kind: 'no-message'}

/** The status update a verified callback makes to its message. */
function statusUpdateOf(callback: ReceivedCallback, messageId: string, status: string, at: string): StatusUpdate {
  return {
    messageId,
    status,
    providerStatus: callback.providerStatus,
    reason: twilioReason(callback.params),
    errorCode: callback.params.ErrorCode || null,
    errorMessage: callback.params.ErrorMessage || null,
    source: 'twilio-webhook',
    payload: callback.params,
    at,
  }
}

/**
 * Writes a verified callback whose SID no message held when it was looked
 * up, in one write transaction, holding the SID's lock so a concurrent
 * storeProviderMessageId either sees the kept row or has stored the SID
 * before we look again. Returns the applied event ids, or
 * 'refused' when the SID turned out to belong to a tenant that did not sign.
 */
async function record(
  database: Database,
  callback: ReceivedCallback,
  status: string,
  tenantIds: string[],
  at: string,
): Promise<number[] | 'refused'> {
  return inWriteTransaction(database, async (trx) => {
    await lockProviderMessageId(trx, callback.messageSid)
    const message = await findMessageByProviderId(trx, callback.messageSid)
    if (message) {
      if (!tenantIds.includes(message.tenant_id)) return 'refused'
      const result = await applyStatus(trx, statusUpdateOf(callback, message.id, status, at))
      return result.outcome === 'applied' ? [result.eventId] : []
    }
    for (const tenantId of tenantIds) {
      await keepPendingCallback(trx, {providerMessageId: callback.messageSid, tenantId, status, params: callback.params, receivedAt: at})
    }
    return []
  })
}
