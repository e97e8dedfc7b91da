import type {Logger} from '../../cli/logger.js'
import {getChannelSettings} from '../../channel-settings/settings-repository.js'
import type {Keyring} from '../../crypto/encryption-key.js'
import type {Database} from '../../db/database.js'
import type {SqsEventRecord} from '../../queue/message-queue.js'
import {SEND_LAMBDA_TIMEOUT_SECONDS} from '../../queue/sqs/queue-definitions.js'
import {decodeSendJob, type SendJob} from '../send-job.js'
import {ProviderCache, type ChannelSender} from './provider-cache.js'
import {recordAccepted, recordPermanentFailure, storedProviderIds} from './record-outcome.js'
import {mapWithLimit} from './run-with-limit.js'
import {classifySendFailure} from './send-errors.js'
import {claimMessage, countAttempt, markOutcomeUnknown, releaseClaim} from './send-claim.js'
import {findTwilioMessage, type TwilioLookup} from './twilio-lookup.js'
import type {SendableMessage} from './message-row.js'

export interface SendCampaignMessageDeps {
  database: Database
  keyring: Keyring
  /** Configuration lookup (process.env in the Lambda): TWILIO_API_BASE_URL, SES_ENDPOINT, AWS_REGION. */
  get: (name: string) => string | undefined
  logger?: Logger
  now?: () => Date
  /**
   * How old a claim without a provider id must be before another delivery
   * may assume its holder is gone and reconcile. Longer than the Lambda
   * timeout (default: twice it), so a live call is never second-guessed.
   */
  claimTimeoutMs?: number
  /** Records of one batch processed at once (default 4). */
  concurrency?: number
  /** Told the message_status_events ids each record applied, after they committed (for the backend forwarder). */
  onApplied?: (eventIds: number[]) => void
  /**
   * Fault injection for tests: runs after the provider accepted a message and
   * before anything about it is written, as a crash or a database failure
   * would strike. Throwing here leaves the claim without a provider id.
   */
  afterProviderAccepted?: (messageId: string, providerMessageId: string) => void | Promise<void>
}

export interface SqsBatchEvent {
  Records: SqsEventRecord[]
}

export interface SqsBatchResponse {
  batchItemFailures: Array<{itemIdentifier: string}>
}

/** What became of one record; `retry` records are reported as batch item failures. */
export type RecordOutcome =
  | {record: string; action: 'ack'; result: 'sent' | 'reconciled' | 'already-done' | 'failed' | 'malformed' | 'missing' | 'unsendable'}
  | {record: string; action: 'retry'; result: 'in-flight' | 'not-sent' | 'outcome-unknown' | 'settings' | 'unresolved' | 'error'}

export const DEFAULT_CLAIM_TIMEOUT_MS = 2 * SEND_LAMBDA_TIMEOUT_SECONDS * 1000
const DEFAULT_CONCURRENCY = 4

/**
 * The SendCampaignMessage handler, independent of Lambda: an SQS event in,
 * `batchItemFailures` out (SQS's partial batch response). Each record names
 * one `messages` row; the row decides what happens, so redeliveries are
 * harmless:
 * - already sent, delivered or failed (or holding a provider id): acknowledged,
 *   no provider call;
 * - claimable: claimed in a short transaction, sent through the tenant's
 *   provider (Twilio with the messaging service or sender and the channel's
 *   webhook URL as StatusCallback; SES for email), then provider id, status
 *   and sent_at written in one transaction;
 * - claimed by a live attempt: retried later, no call;
 * - claimed by an attempt that is gone, or that ended without knowing
 *   whether Twilio took the message: Twilio is searched first (see
 *   twilio-lookup.ts) and the message is sent again only when Twilio
 *   definitely does not have it. SES offers no such search: an email whose
 *   send outcome was lost is sent again (at least once).
 * Permanent provider refusals fail the message and are acknowledged; 429,
 * 5xx and network errors are retried through the queue. A body that is not
 * a send job, or names a message that does not exist, is logged and
 * acknowledged: no retry can make it sendable, and it must not cycle to the
 * dead-letter queue hiding real failures.
 */
export function createSendCampaignMessageProcessor(deps: SendCampaignMessageDeps): (event: SqsBatchEvent) => Promise<SqsBatchResponse> {
  const processRecord = createRecordProcessor(deps)
  return async (event) => {
    const outcomes = await mapWithLimit(event.Records ?? [], deps.concurrency ?? DEFAULT_CONCURRENCY, processRecord)
    return {batchItemFailures: outcomes.filter((outcome) => outcome.action === 'retry').map((outcome) => ({itemIdentifier: outcome.record}))}
  }
}

/** The per-record step of the processor, exposed for callers that want each record's outcome (the worker's summary, tests). */
export function createRecordProcessor(deps: SendCampaignMessageDeps): (record: SqsEventRecord) => Promise<RecordOutcome> {
  const now = deps.now ?? (() => new Date())
  const claimTimeoutMs = deps.claimTimeoutMs ?? DEFAULT_CLAIM_TIMEOUT_MS
  const providers = new ProviderCache({keyring: deps.keyring, get: deps.get, logger: deps.logger})
  const log = deps.logger
  const applied = (eventIds: number[]) => {
    if (eventIds.length === 0 || !deps.onApplied) return
    try {
      deps.onApplied(eventIds)
    } catch (error) {
      // The events are committed and the forwarder finds them anyway; a listener's failure must not retry a sent message.
      log?.warn(`SendCampaignMessage: onApplied failed: ${(error as Error)?.message ?? String(error)}`)
    }
  }

  return async (record) => {
    const id = record.messageId
    let job: SendJob
    try {
      job = decodeSendJob(record.body)
    } catch (error) {
      log?.error(`SendCampaignMessage: record ${id} dropped: ${(error as Error).message}`)
      return {record: id, action: 'ack', result: 'malformed'}
    }
    try {
      return await sendOne(id, job)
    } catch (error) {
      // A database or unexpected failure. A claim already taken stays: a later delivery finds it and,
      // once it is stale, reconciles before sending. The queue retries the record.
      log?.error(`SendCampaignMessage: message ${job.messageId} will be retried: ${(error as Error)?.message ?? String(error)}`)
      return {record: id, action: 'retry', result: 'error'}
    }
  }

  async function sendOne(record: string, job: SendJob): Promise<RecordOutcome> {
    const claim = await claimMessage(deps.database, job.messageId, {now: now(), claimTimeoutMs})
    if (claim.kind === 'missing') {
      log?.warn(`SendCampaignMessage: message ${job.messageId} does not exist; record ${record} acknowledged.`)
      return {record, action: 'ack', result: 'missing'}
    }
    if (claim.kind === 'done') return {record, action: 'ack', result: 'already-done'}
    if (claim.kind === 'unsendable') {
      log?.warn(`SendCampaignMessage: message ${job.messageId} has status "${claim.message.status}", which is never sent; acknowledged.`)
      return {record, action: 'ack', result: 'unsendable'}
    }
    if (claim.kind === 'in-flight') return {record, action: 'retry', result: 'in-flight'}
    applied(claim.eventIds)
    const {message, claimId} = claim
    if (message.tenant_id !== job.tenantId) log?.warn(`SendCampaignMessage: record ${record} names tenant ${job.tenantId} but message ${message.id} belongs to ${message.tenant_id}; the row wins.`)

    if (message.body === null || message.body === '') {
      applied(await recordPermanentFailure(deps.database, {messageId: message.id, errorCode: 'NO_CONTENT', errorMessage: 'The message has no campaign body to send.', reason: 'NO_CONTENT: the message has no campaign body', at: now()}))
      return {record, action: 'ack', result: 'failed'}
    }

    let sender: ChannelSender
    try {
      const settings = await getChannelSettings(deps.database.db, message.tenant_id, message.channel)
      if (!settings) throw new Error(`tenant ${message.tenant_id} has no ${message.channel} settings`)
      sender = await providers.senderFor(settings)
    } catch (error) {
      // Settings an operator must fix (missing, disabled, undecryptable): back to the queue, and in time its DLQ.
      await releaseClaim(deps.database, message.id, claimId, now())
      log?.error(`SendCampaignMessage: message ${message.id} not sent, its channel settings are unusable: ${(error as Error).message}`)
      return {record, action: 'retry', result: 'settings'}
    }

    if (claim.reconcile && sender.twilio) {
      let found: TwilioLookup
      try {
        found = await reconcileWithTwilio(message, sender)
      } catch (error) {
        // The search itself failed: keep the claim marked so the retry searches again, never sends blindly.
        await markOutcomeUnknown(deps.database, message.id, claimId, now())
        log?.warn(`SendCampaignMessage: message ${message.id} could not be looked up at Twilio (${(error as {code?: unknown})?.code ?? (error as Error)?.message}); retried.`)
        return {record, action: 'retry', result: 'unresolved'}
      }
      if (found.kind === 'found') {
        applied(await recordAccepted(deps.database, {messageId: message.id, providerMessageId: found.sid, providerStatus: found.status, source: 'reconcile', at: now()}))
        log?.info(`SendCampaignMessage: message ${message.id} was already at Twilio as ${found.sid}; recorded, not resent.`)
        return {record, action: 'ack', result: 'reconciled'}
      }
      if (found.kind !== 'absent') {
        await markOutcomeUnknown(deps.database, message.id, claimId, now())
        log?.error(`SendCampaignMessage: message ${message.id} left unsent: Twilio's list is ${found.kind === 'ambiguous' ? `ambiguous (${found.sids.join(', ')})` : 'too long to search'}; an operator must decide.`)
        return {record, action: 'retry', result: 'unresolved'}
      }
    }
    if (claim.reconcile) await countAttempt(deps.database.db, message.id, claimId, now())
    return callProvider(record, message, claimId, sender)
  }

  async function reconcileWithTwilio(message: SendableMessage, sender: ChannelSender) {
    const twilio = sender.twilio!
    return findTwilioMessage(
      twilio.lister,
      {to: twilio.address(message.to_address), body: message.body ?? '', messagingServiceSid: twilio.messagingServiceSid, from: twilio.from, since: new Date(message.created_at)},
      {storedElsewhere: (sids) => storedProviderIds(deps.database.db, sids)},
    )
  }

  async function callProvider(record: string, message: SendableMessage, claimId: string, sender: ChannelSender): Promise<RecordOutcome> {
    let result
    try {
      result = await sender.provider.send({to: message.to_address, body: message.body ?? '', subject: message.subject ?? undefined})
    } catch (error) {
      const failure = classifySendFailure(error)
      if (failure.kind === 'permanent') {
        applied(await recordPermanentFailure(deps.database, {messageId: message.id, errorCode: failure.errorCode, errorMessage: failure.errorMessage, reason: failure.reason, at: now()}))
        log?.info(`SendCampaignMessage: message ${message.id} failed permanently: ${failure.reason}`)
        return {record, action: 'ack', result: 'failed'}
      }
      // SES cannot be searched afterwards, so an unknown email outcome is released and sent again.
      if (failure.kind === 'not-sent' || !sender.twilio) await releaseClaim(deps.database, message.id, claimId, now())
      else await markOutcomeUnknown(deps.database, message.id, claimId, now())
      log?.warn(`SendCampaignMessage: message ${message.id} will be retried (${failure.errorCode}).`)
      return {record, action: 'retry', result: failure.kind === 'not-sent' ? 'not-sent' : 'outcome-unknown'}
    }
    // From here the provider has the message: any failure leaves the claim in place for reconciliation.
    await deps.afterProviderAccepted?.(message.id, result.providerMessageId)
    applied(await recordAccepted(deps.database, {messageId: message.id, providerMessageId: result.providerMessageId, providerStatus: result.status, source: 'send', at: now()}))
    return {record, action: 'ack', result: 'sent'}
  }
}
