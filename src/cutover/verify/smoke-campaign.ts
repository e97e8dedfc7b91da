import {randomUUID} from 'node:crypto'
import {assertCampaignContent} from '../../campaigns/create-campaign.js'
import {inWriteTransaction, type Database} from '../../db/database.js'
import {ProviderError} from '../../errors/engage-error.js'
import type {MessagingChannel} from '../../messaging/recipients.js'
import {encodeSendJob, sendJobAttributes, type SendJob} from '../../pipeline/send-job.js'
import type {MessageQueue} from '../../queue/message-queue.js'
import type {VerifyTarget} from './targets.js'

export interface SmokeMessage {
  messageId: string
  to: string
}

export interface SmokeCampaign {
  target: VerifyTarget
  campaignId: string
  messages: SmokeMessage[]
}

/** The body of a smoke message: short (one GSM-7 segment) and saying what it is. */
export function smokeBody(channel: MessagingChannel, at: Date): string {
  return `engage cutover verify ${channel} ${at.toISOString()}`
}

/** A fresh campaign id, known before anything is written so the SSE filter can be opened first. */
export function newSmokeCampaignId(): string {
  return randomUUID()
}

/**
 * Writes one smoke campaign and one `messages` row per test recipient in one
 * transaction. Unlike `campaign send`, the audience is only the test
 * recipients (no contact rows: contact_id stays null), never the tenant's
 * contacts. The campaign is named "cutover verify …" so it is recognisable
 * in the backend.
 */
export async function createSmokeCampaign(
  database: Database,
  input: {campaignId: string; target: VerifyTarget; recipients: string[]; now: Date},
): Promise<SmokeCampaign> {
  const {target, now} = input
  const body = smokeBody(target.channel, now)
  const subject = target.channel === 'email' ? 'engage cutover verify' : undefined
  assertCampaignContent(target.channel, body, subject)
  const at = now.toISOString()
  const messages = input.recipients.map((to) => ({messageId: randomUUID(), to}))
  await inWriteTransaction(database, async (trx) => {
    await trx
      .insertInto('campaigns')
      .values({id: input.campaignId, tenant_id: target.tenantId, name: `cutover verify ${target.channel} ${at}`, channel: target.channel, subject: subject ?? null, body, status: 'sending', created_at: at, sent_at: at})
      .execute()
    await trx
      .insertInto('messages')
      .values(
        messages.map((message) => ({
          id: message.messageId,
          tenant_id: target.tenantId,
          campaign_id: input.campaignId,
          contact_id: null,
          channel: target.channel,
          provider: target.channel === 'email' ? 'ses' : 'twilio',
          to_address: message.to,
          status: 'queued',
          attempts: 0,
          created_at: at,
          updated_at: at,
        })),
      )
      .execute()
  })
  return {target, campaignId: input.campaignId, messages}
}

/** Queues one send job per smoke message; returns when each was accepted. A refused job is a ProviderError naming the queue. */
export async function enqueueSmokeCampaign(queue: MessageQueue, campaign: SmokeCampaign): Promise<Map<string, Date>> {
  const jobs = campaign.messages.map((message) => {
    const job: SendJob = {v: 1, messageId: message.messageId, tenantId: campaign.target.tenantId, channel: campaign.target.channel, campaignId: campaign.campaignId}
    return {id: message.messageId, body: encodeSendJob(job), attributes: sendJobAttributes(job)}
  })
  const accepted = new Map<string, Date>()
  for (let start = 0; start < jobs.length; start += 10) {
    const result = await queue.enqueue(jobs.slice(start, start + 10))
    const at = new Date()
    for (const sent of result.sent) accepted.set(sent.id, at)
    if (result.failed.length > 0) {
      throw new ProviderError(`The ${queue.kind} queue refused ${result.failed.length} smoke message(s): ${result.failed.map((failure) => `${failure.code} ${failure.message}`).join('; ').slice(0, 500)}`, {
        code: 'VERIFY_ENQUEUE_FAILED',
        suggestions: ['Check the queue with `engage doctor`; the smoke campaign rows stay in the database with status queued.'],
      })
    }
  }
  return accepted
}
