import type {Logger} from '../../cli/logger.js'
import {getChannelSettings} from '../../channel-settings/settings-repository.js'
import type {Keyring} from '../../crypto/encryption-key.js'
import type {Database} from '../../db/database.js'
import type {SqsEventRecord} from '../../queue/message-queue.js'
import {SEND_LAMBDA_TIMEOUT_SECONDS} from '../../queue/sqs/queue-definitions.js'
import {decodeSendJob, type SendJob} from '../send-job.js'
import {ProviderCache, type ChannelSender} from './provider-cache.js'
import {GroupedWrites} from './grouped-writes.js'
import {recordAccepted, recordAcceptedIn, recordPermanentFailure, storedProviderIds} from './record-outcome.js'
import {mapWithLimit} from './run-with-limit.js'
import {classifySendFailure} from './send-errors.js'
import {claimMessage, claimMessages, countAttempt, markOutcomeUnknown, releaseClaim, type ClaimDecision} from './send-claim.js'
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
 * - claimable: claimed in a short transaction (one for the whole batch),
 *   sent through the tenant's provider (Twilio with the messaging service or
 *   sender and the channel's webhook URL as StatusCallback; SES for email),
 *   then provider id, status and sent_at written in one transaction (shared
 *   with other messages whose calls ended at the same time) before the
 *   record is acknowledged;
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
  const processBatch = createBatchProcessor(deps)
  return async (event) => {
    const outcomes = await processBatch(event.Records ?? [])
    return {batchItemFailures: outcomes.filter((outcome) => outcome.action === 'retry').map((outcome) => ({itemIdentifier: outcome.record}))}
  }
}

/** The processor one record at a time, for callers that want each record's outcome (the worker's summary, tests). */
export function createRecordProcessor(deps: SendCampaignMessageDeps): (record: SqsEventRecord) => Promise<RecordOutcome> {
  const processBatch = createBatchProcessor(deps)
  return async (record) => (await processBatch([record]))[0]!
}

/** A record whose body decoded: the index of its outcome, its queue id and its job. */
interface DecodedRecord {
  index: number
  record: string
  job: SendJob
}

/**
 * The processor's work for one batch, in as few write transactions as the
 * guarantees allow: the batch's claims in one transaction (each decided as
 * alone, see claimMessages), the channel settings read once per tenant and
 * channel, and the acceptances of calls that end together committed together
 * (GroupedWrites). A record is acknowledged only after its own writes are
 * committed, as before; what happens between claim and record is unchanged.
 */
function createBatchProcessor(deps: SendCampaignMessageDeps): (records: readonly SqsEventRecord[]) => Promise<RecordOutcome[]> {
  const now = deps.now ?? (() => new Date())
  const claimTimeoutMs = deps.claimTimeoutMs ?? DEFAULT_CLAIM_TIMEOUT_MS
  const providers = new ProviderCache({keyring: deps.keyring, get: deps.get, logger: deps.logger})
  const acceptances = new GroupedWrites(deps.database, recordAcceptedIn, (accepted) => accepted.messageId)
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

  return async (records) => {
    const outcomes = new Array<RecordOutcome>(records.length)
    const decoded: DecodedRecord[] = []
    records.forEach((record, index) => {
      try {
        decoded.push({index, record: record.messageId, job: decodeSendJob(record.body)})
      } catch (error) {
        log?.error(`SendCampaignMessage: record ${record.messageId} dropped: ${(error as Error).message}`)
        outcomes[index] = {record: record.messageId, action: 'ack', result: 'malformed'}
      }
    })
    const claims = await claimTogether(decoded)
    const senders = new Map<string, Promise<ChannelSender>>()
    const senderOf = (message: SendableMessage) => {
      const key = `${message.tenant_id}\u0000${message.channel}`
      let sender = senders.get(key)
      if (!sender) senders.set(key, (sender = loadSender(message)))
      return sender
    }
    await mapWithLimit(decoded, deps.concurrency ?? DEFAULT_CONCURRENCY, async ({index, record, job}, position) => {
      try {
        outcomes[index] = await sendOne(record, job, claims?.[position], senderOf)
      } catch (error) {
        // A database or unexpected failure. A claim already taken stays: a later delivery finds it and,
        // once it is stale, reconciles before sending. The queue retries the record.
        log?.error(`SendCampaignMessage: message ${job.messageId} will be retried: ${(error as Error)?.message ?? String(error)}`)
        outcomes[index] = {record, action: 'retry', result: 'error'}
      }
    })
    return outcomes
  }

  /** The batch's claims in one transaction; undefined if it failed (nothing was claimed), and each record claims alone. */
  async function claimTogether(decoded: DecodedRecord[]): Promise<ClaimDecision[] | undefined> {
    if (decoded.length < 2) return undefined
    try {
      return await claimMessages(
        deps.database,
        decoded.map(({job}) => job.messageId),
        {now: now(), claimTimeoutMs},
      )
    } catch (error) {
      log?.warn(`SendCampaignMessage: the batch's claims failed together (${(error as Error)?.message ?? String(error)}); claiming one by one.`)
      return undefined
    }
  }

  /** The tenant's channel settings, read now, and the provider built from them (cached while they do not change). */
  async function loadSender(message: SendableMessage): Promise<ChannelSender> {
    const settings = await getChannelSettings(deps.database.db, message.tenant_id, message.channel)
    if (!settings) throw new Error(`tenant ${message.tenant_id} has no ${message.channel} settings`)
    return providers.senderFor(settings)
  }

  async function sendOne(
    record: string,
    job: SendJob,
    claimed: ClaimDecision | undefined,
    senderOf: (message: SendableMessage) => Promise<ChannelSender>,
  ): Promise<RecordOutcome> {
    const claim = claimed ?? (await claimMessage(deps.database, job.messageId, {now: now(), claimTimeoutMs}))
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
      sender = await senderOf(message)
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
    applied(await acceptances.submit({messageId: message.id, providerMessageId: result.providerMessageId, providerStatus: result.status, source: 'send', at: now()}))
    return {record, action: 'ack', result: 'sent'}
  }
}
