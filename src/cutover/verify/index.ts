import type {Logger} from '../../cli/logger.js'
import type {Keyring} from '../../crypto/encryption-key.js'
import type {Database} from '../../db/database.js'
import {ProviderError, UsageError} from '../../errors/engage-error.js'
import {isFinalStatus} from '../../messages/status-order.js'
import type {MessagingChannel} from '../../messaging/recipients.js'
import {openMessageQueue} from '../../queue/select-queue.js'
import {readCampaignProgress, type MessageProgress} from './progress.js'
import {RECIPIENT_SETTINGS, resolveRecipients} from './recipients.js'
import {createSmokeCampaign, enqueueSmokeCampaign, newSmokeCampaignId, type SmokeCampaign} from './smoke-campaign.js'
import {followSse, type SseFollower} from './sse-follower.js'
import {findVerifyTargets} from './targets.js'
import {HOPS, type HopName, type HopTime, type VerifiedMessage, type VerifyReport} from './types.js'

export {renderVerifyReport} from './render.js'
export {RECIPIENT_SETTINGS} from './recipients.js'
export type {HopName, HopTime, VerifiedMessage, VerifyReport} from './types.js'

export interface CutoverVerifyDeps {
  database: Database
  settings: {get(name: string): string | undefined}
  keyring: Keyring
  logger: Logger
  /** Test recipients (`--to`); else TEST_RECIPIENTS_SMS / _WHATSAPP / _EMAIL from settings. */
  to?: string[]
  /** Tenant slug or id; all tenants when omitted. */
  tenant?: string
  /** Only these channels (sms, whatsapp, email). */
  channels?: string[]
  timeoutMs: number
  /** Also wait for `read` on WhatsApp (SMS and email report no read). */
  requireRead?: boolean
  /** The SSE stream: a /events URL or a base URL; default ENGAGE_SERVE_URL + /events. Without either, `sse` is not followed. */
  eventsUrl?: string
  /** How often the database is read while following (default 100 ms). */
  pollMs?: number
}

/**
 * `engage cutover --verify`: proves the send path the flag selects with real
 * messages. For each enabled and verified channel of the tenant(s) with a
 * test recipient, it writes a smoke campaign addressed only to the test
 * recipients, queues it through {@link openMessageQueue} (local queue or SQS,
 * as USE_AWS_QUEUE says), then follows the database and the SSE stream
 * (filtered by campaign) until every message reached its last hop or
 * `timeoutMs` passed. Hops: enqueued, sent (provider accepted), delivered
 * (not for email: SES reports no delivery locally), read (WhatsApp with
 * `requireRead`), seen on SSE (the last status of the message).
 *
 * Refused before anything is written (UsageError, NotFoundError,
 * EncryptionError, ProviderError for an unreachable SSE stream): no
 * recipients, no enabled and verified channel, bad addresses, undecryptable
 * credentials. Afterwards it never throws for a failed message: the report
 * says which hop failed and why; {@link assertVerifyPassed} turns that into
 * an exit code.
 */
export async function runCutoverVerify(deps: CutoverVerifyDeps): Promise<VerifyReport> {
  if (!Number.isFinite(deps.timeoutMs) || deps.timeoutMs <= 0) {
    throw new UsageError('The verify timeout must be a positive number of milliseconds.', {code: 'VERIFY_TIMEOUT_INVALID', suggestions: ['Pass --timeout 60 (seconds).']})
  }
  const recipients = resolveRecipients(deps.to, deps.settings)
  if (Object.values(recipients).every((list) => list.length === 0)) {
    throw new UsageError('No test recipients: a smoke campaign needs someone to send to.', {
      code: 'VERIFY_NO_RECIPIENTS',
      suggestions: [`Pass --to +15555550100 (or an email address), or set ${Object.values(RECIPIENT_SETTINGS).join(' / ')} (comma-separated) in the environment or .env.`],
    })
  }
  const targets = await findVerifyTargets(deps.database.db, deps.keyring, {tenant: deps.tenant, channels: deps.channels})
  const skipped: VerifyReport['skipped'] = []
  const planned = targets.filter((target) => {
    if (recipients[target.channel].length > 0) return true
    skipped.push({tenant: target.tenantSlug, channel: target.channel, reason: `no ${target.channel} test recipient (--to or ${RECIPIENT_SETTINGS[target.channel]})`})
    return false
  })
  if (planned.length === 0) {
    throw new UsageError(`No test recipient for the channels to verify (${targets.map((target) => `${target.tenantSlug} ${target.channel}`).join(', ')}).`, {
      code: 'VERIFY_NO_RECIPIENTS',
      suggestions: [`Pass --to with ${[...new Set(targets.map((target) => (target.channel === 'email' ? 'an email address' : 'an E.164 number')))].join(' or ')}, or set ${[...new Set(targets.map((target) => RECIPIENT_SETTINGS[target.channel]))].join(' / ')}.`],
    })
  }
  if (deps.channels?.length) {
    const unaddressed = skipped.filter((entry) => deps.channels!.includes(entry.channel))
    if (unaddressed.length > 0) {
      throw new UsageError(`No test recipient for the requested ${[...new Set(unaddressed.map((entry) => entry.channel))].join(', ')} channel.`, {
        code: 'VERIFY_NO_RECIPIENTS',
        suggestions: [`Pass --to for it, or set ${[...new Set(unaddressed.map((entry) => RECIPIENT_SETTINGS[entry.channel]))].join(' / ')}.`],
      })
    }
  }

  const opened = await openMessageQueue(deps.database, deps.settings)
  const eventsUrl = resolveEventsUrl(deps.eventsUrl ?? deps.settings.get('ENGAGE_SERVE_URL'))
  if (eventsUrl === null) deps.logger.warn('ENGAGE_SERVE_URL is not set: the SSE hop is not followed.')

  // Every stream is open before anything is written, so an unreachable one refuses the run with nothing created.
  const campaignIds = planned.map(() => newSmokeCampaignId())
  const followers: Array<SseFollower | undefined> = []
  const startedAt = new Date()
  try {
    for (const [index, target] of planned.entries()) {
      followers.push(eventsUrl === null ? undefined : await followSse(eventsUrl, {campaign: campaignIds[index]!, tenant: target.tenantId}))
    }
    const campaigns: SmokeCampaign[] = []
    const started = new Map<string, number>()
    const enqueuedAt = new Map<string, Date>()
    for (const [index, target] of planned.entries()) {
      const campaign = await createSmokeCampaign(deps.database, {campaignId: campaignIds[index]!, target, recipients: recipients[target.channel], now: new Date()})
      campaigns.push(campaign)
      started.set(campaign.campaignId, Date.now())
      deps.logger.info(`Smoke campaign ${campaign.campaignId}: ${target.tenantSlug} ${target.channel} to ${campaign.messages.length} recipient(s) through ${opened.display}.`)
      try {
        for (const [id, at] of await enqueueSmokeCampaign(opened.queue, campaign)) enqueuedAt.set(id, at)
      } catch (error) {
        // The rows exist; following shows them stuck at `enqueued`, which is what the report must say.
        deps.logger.error((error as Error).message)
      }
    }

    const requireRead = deps.requireRead ?? false
    const deadline = startedAt.getTime() + deps.timeoutMs
    let results: VerifiedMessage[] = []
    for (;;) {
      results = []
      for (const [index, campaign] of campaigns.entries()) {
        const progress = await readCampaignProgress(deps.database, campaign.campaignId)
        for (const message of campaign.messages) {
          results.push(
            judge({
              campaign,
              message,
              progress: progress.get(message.messageId),
              enqueuedAt: enqueuedAt.get(message.messageId),
              sse: followers[index],
              t0: started.get(campaign.campaignId)!,
              requireRead,
              timedOut: false,
            }),
          )
        }
      }
      if (results.every((result) => result.ok || result.failure !== undefined)) break
      if (Date.now() >= deadline) {
        results = results.map((result) => (result.ok || result.failure !== undefined ? result : timedOut(result, deps.timeoutMs)))
        break
      }
      await new Promise((resolve) => setTimeout(resolve, deps.pollMs ?? 100))
    }
    return {
      ok: results.every((result) => result.ok),
      path: opened.kind,
      queue: opened.display,
      eventsUrl,
      requireRead,
      timeoutMs: deps.timeoutMs,
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      campaigns: campaigns.map((campaign) => ({tenant: campaign.target.tenantSlug, channel: campaign.target.channel, campaignId: campaign.campaignId, recipients: campaign.messages.length})),
      skipped,
      messages: results,
    }
  } finally {
    for (const follower of followers) follower?.close()
  }
}

/**
 * Throws a ProviderError naming each failed hop when the report is not ok;
 * what a command calls after printing the report, for a non-zero exit.
 */
export function assertVerifyPassed(report: VerifyReport): void {
  if (report.ok) return
  const failed = report.messages.filter((message) => !message.ok)
  const hops = [...new Set(failed.map((message) => message.failedHop))]
  throw new ProviderError(`Cutover verification failed at the ${hops.map((hop) => `"${hop}"`).join(', ')} hop: ${failed.length} of ${report.messages.length} smoke message(s) did not make it through ${report.path === 'sqs' ? 'SQS' : 'the local queue'}.`, {
    code: 'CUTOVER_VERIFY_FAILED',
    suggestions: [
      ...(hops.includes('enqueued') ? ['enqueued: the queue refused the job; check it with `engage doctor`.'] : []),
      ...(hops.includes('sent') ? [report.path === 'sqs' ? 'sent: is the SendCampaignMessage Lambda (or `engage dev`) consuming SQS? See its logs and `engage dlq list`.' : 'sent: is `engage worker` (or `engage dev`) running? Its log names the provider error.'] : []),
      ...(hops.includes('delivered') || hops.includes('read') ? ['delivered/read: are Twilio status callbacks reaching the webhook? `engage doctor` checks WEBHOOK_BASE_URL.'] : []),
      ...(hops.includes('sse') ? ['sse: is the forwarder running (BACKEND_STATUS_WEBHOOK_URL) and ENGAGE_SERVE_URL the server it posts to?'] : []),
      'Roll back with `engage cutover --rollback` if this was the SQS path.',
    ],
    details: {failed: failed.map((message) => ({messageId: message.messageId, channel: message.channel, failedHop: message.failedHop, failure: message.failure}))},
  })
}

function resolveEventsUrl(value: string | undefined): string | null {
  const trimmed = value?.trim()
  if (!trimmed) return null
  return /\/events\/?$/.test(trimmed) ? trimmed : `${trimmed.replace(/\/+$/, '')}/events`
}

function requiredHops(channel: MessagingChannel, requireRead: boolean, sse: boolean): HopName[] {
  return HOPS.filter((hop) => {
    if (hop === 'delivered') return channel !== 'email'
    if (hop === 'read') return requireRead && channel === 'whatsapp'
    if (hop === 'sse') return sse
    return true
  })
}

function judge(input: {
  campaign: SmokeCampaign
  message: {messageId: string; to: string}
  progress: MessageProgress | undefined
  enqueuedAt: Date | undefined
  sse: SseFollower | undefined
  t0: number
  requireRead: boolean
  timedOut: boolean
}): VerifiedMessage {
  const {campaign, message, progress, t0} = input
  const channel = campaign.target.channel
  const required = requiredHops(channel, input.requireRead, input.sse !== undefined)
  const time = (at: string | Date | null | undefined): HopTime | undefined => {
    if (at === null || at === undefined) return undefined
    const date = typeof at === 'string' ? new Date(at) : at
    return Number.isNaN(date.getTime()) ? undefined : {at: date.toISOString(), ms: Math.max(0, date.getTime() - t0)}
  }
  const hops: VerifiedMessage['hops'] = {}
  const put = (hop: HopName, value: HopTime | undefined) => {
    if (value) hops[hop] = value
  }
  put('enqueued', time(input.enqueuedAt))
  put('sent', time(progress?.sentAt ?? progress?.events.get('sent')))
  put('delivered', time(progress?.events.get('delivered')))
  put('read', time(progress?.events.get('read')))
  const last = required.filter((hop) => hop !== 'sse' && hop !== 'enqueued').at(-1) as 'sent' | 'delivered' | 'read'
  if (input.sse) put('sse', time(input.sse.seen(message.messageId, last)))
  const result: VerifiedMessage = {
    tenant: campaign.target.tenantSlug,
    channel,
    to: message.to,
    campaignId: campaign.campaignId,
    messageId: message.messageId,
    status: progress?.status ?? 'missing',
    required,
    hops,
    ok: required.every((hop) => hops[hop] !== undefined),
  }
  if (!result.ok && progress && isFinalStatus(progress.status)) {
    // failed / undelivered: the provider said no; the hop is the one it did not pass.
    result.failedHop = hops.sent ? 'delivered' : 'sent'
    result.failure = `${progress.status}${progress.reason ? `: ${progress.reason}` : ''}`
  }
  return result
}

function timedOut(result: VerifiedMessage, timeoutMs: number): VerifiedMessage {
  const failedHop = result.required.find((hop) => result.hops[hop] === undefined)!
  return {...result, failedHop, failure: `not reached within ${timeoutMs} ms (status ${result.status})`}
}
