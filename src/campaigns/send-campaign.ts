import type {Kysely} from 'kysely'
import {inWriteTransaction, type Database} from '../db/database.js'
import {NotFoundError, ProviderError, UsageError} from '../errors/engage-error.js'
import {normalizeWhatsAppAddress, validateRecipient, type MessagingChannel} from '../messaging/recipients.js'
import {encodeSendJob, sendJobAttributes, type SendJob} from '../pipeline/send-job.js'
import type {EnqueueFailure, MessageQueue, QueueMessage} from '../queue/message-queue.js'
import {requireTenant} from '../tenants/tenant-repository.js'
import {assertCampaignContent} from './create-campaign.js'
import {campaignMessageId} from './message-ids.js'

/* eslint-disable @typescript-eslint/no-explicit-any */

/** Messages per enqueue call: one SQS SendMessageBatch, one local-queue transaction. */
export const ENQUEUE_BATCH_SIZE = 10
/** How many invalid addresses or failed ids an error lists before "and N more". */
export const MAX_LISTED = 20
// Rows per multi-row INSERT of messages: 11 parameters each stays far below both dialects' limits.
const INSERT_CHUNK = 500
const WHATSAPP_PREFIX = 'whatsapp:'

export interface SendCampaignInput {
  tenant: string
  campaignId: string
  /** Validate and count recipients; write and queue nothing. */
  dryRun?: boolean
  now?: string
  /** Called after each enqueue batch, for progress on stderr. */
  onProgress?: (done: number, total: number) => void
}

export interface SendCampaignReport {
  campaignId: string
  tenantId: string
  channel: MessagingChannel
  /** Messages rows this run created (0 on a re-run: the audience is fixed by the first send). */
  created: number
  /** Messages rows the campaign already had before this run. */
  existing: number
  /** Contacts left out: opted out, or without an address for the channel. */
  skipped: {optedOut: number; noAddress: number}
  /** Send jobs queued by this run. */
  enqueued: number
  queue: string
  dryRun: boolean
  warnings: string[]
}

interface Recipient {
  contactId: string
  address: string
}

/**
 * Sends a campaign: creates one `messages` row per contact of the tenant
 * that has not opted out and has an address for the channel, then queues one
 * send job per message ({@link encodeSendJob}) in batches of
 * {@link ENQUEUE_BATCH_SIZE}.
 *
 * All-or-nothing before the queue: every address is validated first (an
 * invalid one refuses the whole send, listing contact ids and reasons), and
 * the rows are created in one transaction with deterministic ids
 * ({@link campaignMessageId}) that also moves the campaign to 'sending' and
 * stamps sent_at. The audience is fixed by the first send: a campaign that
 * already has messages gets no new rows.
 *
 * Idempotent afterwards: every run queues the campaign's messages that are
 * still 'queued' and that no sender has touched (no send claim, no attempt,
 * no provider id). A message may so be queued twice (a re-run after a
 * successful one, or one whose job is still waiting in the queue); that is
 * safe because the sender claims a message before it sends, so a duplicate
 * job never sends twice. Jobs that could not be queued are reported in a
 * ProviderError naming their message ids, telling the operator to re-run.
 */
export async function sendCampaign(database: Database, queue: MessageQueue, input: SendCampaignInput): Promise<SendCampaignReport> {
  const tenant = await requireTenant(database.db, input.tenant)
  const campaign = await database.db
    .selectFrom('campaigns')
    .select(['id', 'tenant_id', 'channel', 'subject', 'body', 'status'])
    .where('id', '=', input.campaignId)
    .where('tenant_id', '=', tenant.id)
    .executeTakeFirst()
  if (!campaign) {
    throw new NotFoundError(`Tenant ${tenant.slug} has no campaign "${input.campaignId}".`, {
      code: 'CAMPAIGN_NOT_FOUND',
      suggestions: ['Check the campaign id `engage campaign create` printed, and that it belongs to this tenant.'],
    })
  }
  const channel = campaign.channel as MessagingChannel
  // Stored rows can predate these checks (legacy data, direct edits): refuse before anything is queued.
  assertCampaignContent(channel, campaign.body as string, channel === 'email' ? (campaign.subject as string | null) : undefined)

  const report: SendCampaignReport = {
    campaignId: campaign.id as string,
    tenantId: tenant.id,
    channel,
    created: 0,
    existing: await countMessages(database.db, campaign.id as string),
    skipped: {optedOut: 0, noAddress: 0},
    enqueued: 0,
    queue: queue.kind,
    dryRun: input.dryRun ?? false,
    warnings: [],
  }
  if (!(await channelEnabled(database.db, tenant.id, channel))) {
    report.warnings.push(
      `Tenant ${tenant.slug} has no enabled ${channel} settings; the sender will fail these messages until \`engage seed ${channel === 'email' ? 'ses' : 'twilio'}\` or \`engage settings enable\` sets them up.`,
    )
  }

  if (report.existing === 0) {
    const {recipients, optedOut, noAddress} = await selectRecipients(database.db, tenant.id, channel)
    report.skipped = {optedOut, noAddress}
    if (recipients.length === 0) {
      throw new UsageError(`Tenant ${tenant.slug} has no contact to send this ${channel} campaign to (${optedOut} opted out, ${noAddress} without ${channel === 'email' ? 'an email' : 'a phone'}).`, {
        code: 'CAMPAIGN_NO_RECIPIENTS',
        suggestions: ['Import contacts with `engage contacts import --tenant … --file contacts.csv` first.'],
      })
    }
    if (input.dryRun) {
      report.created = recipients.length
      return report
    }
    const now = input.now ?? new Date().toISOString()
    report.created = await createMessages(database, {campaignId: campaign.id as string, tenantId: tenant.id, channel, recipients, now})
  } else if (input.dryRun) {
    return report
  }

  const pending = await unsentMessageIds(database, campaign.id as string)
  const jobs: QueueMessage[] = pending.map((messageId) => {
    const job: SendJob = {v: 1, messageId, tenantId: tenant.id, channel, campaignId: campaign.id as string}
    return {id: messageId, body: encodeSendJob(job), attributes: sendJobAttributes(job)}
  })
  const failed = await enqueueInBatches(queue, jobs, input.onProgress)
  report.enqueued = jobs.length - failed.length
  if (failed.length > 0) throw enqueueFailed(report, failed, tenant.slug)
  return report
}

async function countMessages(db: Kysely<any>, campaignId: string): Promise<number> {
  const row = await db.selectFrom('messages').select((eb) => eb.fn.countAll().as('n')).where('campaign_id', '=', campaignId).executeTakeFirst()
  return Number(row?.n ?? 0)
}

async function channelEnabled(db: Kysely<any>, tenantId: string, channel: MessagingChannel): Promise<boolean> {
  const row = await db
    .selectFrom('tenant_channel_settings')
    .select('id')
    .where('tenant_id', '=', tenantId)
    .where('channel', '=', channel)
    .where('is_enabled', '=', 1)
    .executeTakeFirst()
  return row !== undefined
}

/** The contacts to send to, each address validated; any invalid one refuses the send with the list. */
async function selectRecipients(db: Kysely<any>, tenantId: string, channel: MessagingChannel) {
  const column = channel === 'email' ? 'email' : 'phone'
  const contacts = (await db
    .selectFrom('contacts')
    .select(['id', 'phone', 'email', 'opted_out'])
    .where('tenant_id', '=', tenantId)
    .orderBy('created_at')
    .orderBy('id')
    .execute()) as Array<{id: string; phone: string | null; email: string | null; opted_out: number | string}>
  const recipients: Recipient[] = []
  const invalid: Array<{contactId: string; reason: string}> = []
  let optedOut = 0
  let noAddress = 0
  for (const contact of contacts) {
    if (Number(contact.opted_out) !== 0) {
      optedOut++
      continue
    }
    const raw = contact[column]?.trim()
    if (!raw) {
      noAddress++
      continue
    }
    const reason = validateRecipient(channel, raw)
    if (reason) {
      invalid.push({contactId: contact.id, reason})
      continue
    }
    // Rows store the bare E.164 number for WhatsApp too (the provider adds `whatsapp:` on the wire), as MessageProvider expects.
    recipients.push({contactId: contact.id, address: channel === 'whatsapp' ? normalizeWhatsAppAddress(raw)!.slice(WHATSAPP_PREFIX.length) : raw})
  }
  if (invalid.length > 0) {
    const listed = invalid.slice(0, MAX_LISTED).map((item) => `contact ${item.contactId}: ${item.reason}`)
    const more = invalid.length - listed.length
    throw new UsageError(
      `${invalid.length} contact(s) have an invalid ${column}; nothing was created or queued.\n  ${listed.join('\n  ')}${more > 0 ? `\n  … and ${more} more` : ''}`,
      {
        code: 'CAMPAIGN_INVALID_RECIPIENTS',
        suggestions: ['Correct these contacts (re-import them with `engage contacts import`) or mark them opted_out, then send again.'],
        details: {invalid: invalid.slice(0, MAX_LISTED), moreInvalid: Math.max(more, 0)},
      },
    )
  }
  return {recipients, optedOut, noAddress}
}

/** One transaction: the messages rows (ids deterministic, conflicts ignored) and the campaign moved to 'sending'. */
async function createMessages(
  database: Database,
  input: {campaignId: string; tenantId: string; channel: MessagingChannel; recipients: Recipient[]; now: string},
): Promise<number> {
  return inWriteTransaction(database, async (trx) => {
    let created = 0
    for (let start = 0; start < input.recipients.length; start += INSERT_CHUNK) {
      const rows = input.recipients.slice(start, start + INSERT_CHUNK).map((recipient) => ({
        id: campaignMessageId(input.campaignId, recipient.contactId),
        tenant_id: input.tenantId,
        campaign_id: input.campaignId,
        contact_id: recipient.contactId,
        channel: input.channel,
        to_address: recipient.address,
        status: 'queued',
        attempts: 0,
        created_at: input.now,
        updated_at: input.now,
      }))
      const result = await trx
        .insertInto('messages')
        .values(rows)
        .onConflict((conflict) => conflict.column('id').doNothing())
        .executeTakeFirst()
      created += Number(result.numInsertedOrUpdatedRows ?? 0)
    }
    await trx
      .updateTable('campaigns')
      .set({status: 'sending', sent_at: input.now})
      .where('id', '=', input.campaignId)
      .where('status', '=', 'draft')
      .execute()
    return created
  })
}

/**
 * Ids of the campaign's messages no sender has touched yet: status 'queued',
 * no attempt, no provider id, and, once the sender's claim column exists
 * (messages.send_claim_id), no claim.
 */
async function unsentMessageIds(database: Database, campaignId: string): Promise<string[]> {
  let query = database.db
    .selectFrom('messages')
    .select('id')
    .where('campaign_id', '=', campaignId)
    .where('status', '=', 'queued')
    .where('attempts', '=', 0)
    .where('provider_message_id', 'is', null)
  if (await hasColumn(database, 'messages', 'send_claim_id')) query = query.where('send_claim_id', 'is', null)
  const rows = await query.orderBy('created_at').orderBy('id').execute()
  return rows.map((row) => row.id as string)
}

async function hasColumn(database: Database, table: string, column: string): Promise<boolean> {
  const tables = await database.db.introspection.getTables()
  return tables.some((t) => t.name === table && t.columns.some((c) => c.name === column))
}

async function enqueueInBatches(queue: MessageQueue, jobs: QueueMessage[], onProgress?: (done: number, total: number) => void): Promise<EnqueueFailure[]> {
  const failed: EnqueueFailure[] = []
  for (let start = 0; start < jobs.length; start += ENQUEUE_BATCH_SIZE) {
    const batch = jobs.slice(start, start + ENQUEUE_BATCH_SIZE)
    try {
      const result = await queue.enqueue(batch)
      failed.push(...result.failed)
    } catch (error) {
      // The queue itself is unreachable (database down, SQS refusing the whole call): the rest would fail the same way.
      const reason = error as {code?: string; message?: string}
      for (const job of jobs.slice(start)) {
        failed.push({id: job.id, code: reason.code ?? 'ENQUEUE_FAILED', message: reason.message ?? String(error), senderFault: false, attempts: 0})
      }
      break
    }
    onProgress?.(Math.min(start + batch.length, jobs.length), jobs.length)
  }
  return failed
}

function enqueueFailed(report: SendCampaignReport, failed: EnqueueFailure[], tenantSlug: string): ProviderError {
  const listed = failed.slice(0, MAX_LISTED).map((failure) => `message ${failure.id}: ${failure.code} ${failure.message}`)
  const more = failed.length - listed.length
  return new ProviderError(
    `${failed.length} of ${failed.length + report.enqueued} send jobs could not be queued on the ${report.queue} queue; ${report.enqueued} were.\n  ${listed.join('\n  ')}${more > 0 ? `\n  … and ${more} more` : ''}`,
    {
      code: 'CAMPAIGN_ENQUEUE_FAILED',
      suggestions: [
        `The messages are stored. Re-run \`engage campaign send --tenant ${tenantSlug} --campaign ${report.campaignId}\` to queue the rest; a message queued twice is still sent once.`,
      ],
      details: {...report, failedIds: failed.map((failure) => failure.id), failures: failed.slice(0, MAX_LISTED)},
    },
  )
}
