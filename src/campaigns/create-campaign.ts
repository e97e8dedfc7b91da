import {randomUUID} from 'node:crypto'
import {inWriteTransaction, type Database} from '../db/database.js'
import {UsageError} from '../errors/engage-error.js'
import {MESSAGING_CHANNELS, type MessagingChannel} from '../messaging/recipients.js'
import {assertSmsBodyFits, type SmsSegmentCount} from '../messaging/sms-segments.js'
import {requireTenant} from '../tenants/tenant-repository.js'

/** The longest email subject accepted; RFC 5322 recommends 78 characters per header line, mail clients cut far earlier. */
export const MAX_SUBJECT_LENGTH = 998
export const MAX_CAMPAIGN_NAME_LENGTH = 200

export interface CreateCampaignInput {
  /** Tenant slug or id. */
  tenant: string
  channel: MessagingChannel
  body: string
  subject?: string
  name?: string
  now?: string
}

export interface CreatedCampaign {
  id: string
  tenantId: string
  tenantSlug: string
  name: string
  channel: MessagingChannel
  subject: string | null
  status: 'draft'
  /** The SMS segment count (SMS and WhatsApp bodies); absent for email. */
  segments?: SmsSegmentCount
  createdAt: string
}

/**
 * Checks a campaign's content for its channel before it is stored: SMS and
 * WhatsApp bodies must fit {@link assertSmsBodyFits} (10 segments, GSM-7 or
 * UCS-2 counted as carriers do); email needs a subject and a non-empty body
 * and takes no segment limit. Returns the segment count where it applies.
 */
export function assertCampaignContent(channel: MessagingChannel, body: string, subject: string | undefined | null): SmsSegmentCount | undefined {
  if (!MESSAGING_CHANNELS.includes(channel)) {
    throw new UsageError(`"${String(channel)}" is not a channel.`, {code: 'CAMPAIGN_CHANNEL_INVALID', suggestions: [`Use one of ${MESSAGING_CHANNELS.join(', ')}.`]})
  }
  if (channel === 'email') {
    if (subject === undefined || subject === null || subject.trim() === '') {
      throw new UsageError('An email campaign needs a subject.', {code: 'CAMPAIGN_SUBJECT_MISSING', suggestions: ['Pass --subject "…".']})
    }
    if (subject.length > MAX_SUBJECT_LENGTH || /[\r\n]/.test(subject)) {
      throw new UsageError(`The subject must be one line of at most ${MAX_SUBJECT_LENGTH} characters.`, {code: 'CAMPAIGN_SUBJECT_INVALID'})
    }
    if (body.trim() === '') {
      throw new UsageError('The email body is empty.', {code: 'CAMPAIGN_BODY_EMPTY', suggestions: ['Pass --body "…" or --body-file PATH.']})
    }
    return undefined
  }
  if (subject !== undefined && subject !== null) {
    throw new UsageError(`--subject is only for email campaigns; ${channel} messages have no subject.`, {
      code: 'CAMPAIGN_SUBJECT_NOT_APPLICABLE',
      suggestions: ['Leave out --subject, or use --channel email.'],
    })
  }
  return assertSmsBodyFits(body)
}

/**
 * Stores a new campaign in status 'draft' for a tenant after checking its
 * content ({@link assertCampaignContent}). Nothing is sent: `sendCampaign`
 * does that. The name defaults to the channel and the creation time.
 */
export async function createCampaign(database: Database, input: CreateCampaignInput): Promise<CreatedCampaign> {
  const segments = assertCampaignContent(input.channel, input.body, input.subject)
  const name = (input.name ?? '').trim()
  if (name.length > MAX_CAMPAIGN_NAME_LENGTH) {
    throw new UsageError(`The campaign name is longer than ${MAX_CAMPAIGN_NAME_LENGTH} characters.`, {code: 'CAMPAIGN_NAME_TOO_LONG'})
  }
  const now = input.now ?? new Date().toISOString()
  const tenant = await requireTenant(database.db, input.tenant)
  const campaign = {
    id: randomUUID(),
    tenant_id: tenant.id,
    name: name === '' ? `${input.channel} campaign ${now}` : name,
    channel: input.channel,
    subject: input.channel === 'email' ? input.subject!.trim() : null,
    body: input.body,
    status: 'draft' as const,
    created_at: now,
    sent_at: null,
  }
  await inWriteTransaction(database, (trx) => trx.insertInto('campaigns').values(campaign).execute())
  return {
    id: campaign.id,
    tenantId: tenant.id,
    tenantSlug: tenant.slug,
    name: campaign.name,
    channel: input.channel,
    subject: campaign.subject,
    status: 'draft',
    ...(segments ? {segments} : {}),
    createdAt: now,
  }
}
