import {randomBytes, randomUUID} from 'node:crypto'
import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import {silentLogger} from '../../src/cli/logger.js'
import {seedSes} from '../../src/channel-settings/seed-ses.js'
import {seedTwilio, type TwilioChannel} from '../../src/channel-settings/seed-twilio.js'
import {Keyring, parseEncryptionKey} from '../../src/crypto/encryption-key.js'
import type {Database} from '../../src/db/database.js'
import type {MessagingChannel} from '../../src/messaging/recipients.js'
import {encodeSendJob, sendJobAttributes, type SendJob} from '../../src/pipeline/send-job.js'
import {toSqsEventRecord, type MessageQueue, type SqsEventRecord} from '../../src/queue/message-queue.js'

/**
 * Rows and services the send pipeline's tests share: a tenant with real,
 * verified Twilio settings (seeded through seedTwilio against a sandbox) or
 * SES settings, campaigns, contacts, `messages` rows, their send jobs on a
 * real queue, and the SQS event records a handler receives.
 */

/** A fresh keyring with a random current key (ENCRYPTION_KEY's role in tests). */
export function testKeyring(): {keyring: Keyring; hex: string} {
  const hex = randomBytes(32).toString('hex')
  return {keyring: new Keyring(parseEncryptionKey(hex)), hex}
}

export interface TwilioTenantInput {
  /** Tenant slug; created when missing. */
  slug: string
  accountSid: string
  authToken: string
  messagingServiceSid: string
  /** TWILIO_API_BASE_URL: the sandbox that verifies the settings. */
  twilioBaseUrl: string
  channels?: TwilioChannel[]
  smsFrom?: string
  whatsappFrom?: string
  /** The StatusCallback Twilio will call; http only on loopback. */
  webhookUrl: string
}

/** Seeds (verifies and stores) a tenant's Twilio channels through the real seed function; returns the tenant id. */
export async function seedTwilioTenant(database: Database, keyring: Keyring, input: TwilioTenantInput): Promise<string> {
  const channels = input.channels ?? ['sms', 'whatsapp']
  const result = await seedTwilio(
    database,
    keyring,
    {
      tenant: input.slug,
      createTenantName: input.slug,
      accountSid: input.accountSid,
      authToken: input.authToken,
      messagingServiceSid: input.messagingServiceSid,
      channels,
      smsFrom: channels.includes('sms') ? (input.smsFrom ?? '+15005550006') : undefined,
      whatsappFrom: channels.includes('whatsapp') ? (input.whatsappFrom ?? '+15005550008') : undefined,
      webhookUrl: input.webhookUrl,
      verify: true,
      twilioBaseUrl: input.twilioBaseUrl,
    },
    silentLogger,
  )
  return result.tenant.id
}

/** The usual test tenant, `acme`: twilioSeed()'s active account and messaging service, on a sandbox, calling back `webhookUrl`. */
export function seedSandboxTenant(
  database: Database,
  keyring: Keyring,
  twilio: {accountSid: string; authToken: string; serviceSid: string},
  urls: {twilioBaseUrl: string; webhookUrl: string},
): Promise<string> {
  return seedTwilioTenant(database, keyring, {slug: 'acme', accountSid: twilio.accountSid, authToken: twilio.authToken, messagingServiceSid: twilio.serviceSid, ...urls})
}

/** Seeds a tenant's SES email channel with stored (throwaway) keys, as the SES emulator accepts any. */
export async function seedSesTenant(database: Database, keyring: Keyring, input: {slug: string; from?: string; region?: string}): Promise<string> {
  const result = await seedSes(
    database,
    () => keyring,
    {
      tenant: input.slug,
      createTenantName: input.slug,
      from: input.from ?? 'campaigns@example.com',
      region: input.region ?? 'us-east-1',
      accessKeyId: 'AKIAENGAGETESTKEY000',
      secretAccessKey: randomBytes(20).toString('hex'),
    },
    silentLogger,
  )
  return result.tenant.id
}

export interface CampaignRow {
  id: string
  tenant_id: string
  channel: MessagingChannel
  body: string
  subject: string | null
}

export async function createCampaign(
  database: Database,
  input: {tenantId: string; channel: MessagingChannel; body: string; subject?: string; name?: string},
): Promise<CampaignRow> {
  const row = {
    id: randomUUID(),
    tenant_id: input.tenantId,
    name: input.name ?? `${input.channel} campaign`,
    channel: input.channel,
    subject: input.subject ?? null,
    body: input.body,
    status: 'sending',
    created_at: new Date().toISOString(),
  }
  await database.db.insertInto('campaigns').values(row).execute()
  return {id: row.id, tenant_id: row.tenant_id, channel: row.channel, body: row.body, subject: row.subject}
}

export interface ContactInput {
  phone?: string
  email?: string
  name?: string
  optedOut?: boolean
}

export interface ContactRow {
  id: string
  tenant_id: string
  phone: string | null
  email: string | null
}

export async function createContacts(database: Database, tenantId: string, contacts: ContactInput[]): Promise<ContactRow[]> {
  const now = new Date().toISOString()
  const rows = contacts.map((contact) => ({
    id: randomUUID(),
    tenant_id: tenantId,
    name: contact.name ?? null,
    phone: contact.phone ?? null,
    email: contact.email ?? null,
    opted_out: contact.optedOut ? 1 : 0,
    created_at: now,
  }))
  if (rows.length > 0) await database.db.insertInto('contacts').values(rows).execute()
  return rows.map(({id, tenant_id, phone, email}) => ({id, tenant_id, phone, email}))
}

/** Distinct E.164 numbers (+1555…) for recipients; `offset` keeps two sets apart. */
export function phoneNumbers(count: number, offset = 0): string[] {
  return Array.from({length: count}, (_, index) => `+1555${String(1_000_000 + offset + index).padStart(7, '0')}`)
}

export interface MessageRow {
  id: string
  tenant_id: string
  campaign_id: string | null
  channel: MessagingChannel
  to_address: string
}

/** One `queued` messages row per contact, addressed by phone (sms, whatsapp) or email, as `campaign send` writes them. */
export async function createQueuedMessages(database: Database, campaign: CampaignRow, contacts: ContactRow[]): Promise<MessageRow[]> {
  const now = new Date().toISOString()
  const rows = contacts.map((contact) => {
    const to = campaign.channel === 'email' ? contact.email : contact.phone
    if (!to) throw new Error(`contact ${contact.id} has no ${campaign.channel === 'email' ? 'email' : 'phone'}`)
    return {
      id: randomUUID(),
      tenant_id: campaign.tenant_id,
      campaign_id: campaign.id,
      contact_id: contact.id,
      channel: campaign.channel,
      provider: campaign.channel === 'email' ? 'ses' : 'twilio',
      to_address: to,
      status: 'queued',
      attempts: 0,
      created_at: now,
      updated_at: now,
    }
  })
  // 11 columns a row: 500 rows stay under SQLite's 32,766 bound variables (and pg's 65,535).
  for (let start = 0; start < rows.length; start += 500) await database.db.insertInto('messages').values(rows.slice(start, start + 500)).execute()
  return rows.map(({id, tenant_id, campaign_id, channel, to_address}) => ({id, tenant_id, campaign_id, channel, to_address}))
}

export function sendJobOf(message: MessageRow): SendJob {
  return {v: 1, messageId: message.id, tenantId: message.tenant_id, channel: message.channel, campaignId: message.campaign_id}
}

/** Enqueues one send job per message on a real queue; throws if any is refused. */
export async function enqueueSendJobs(queue: MessageQueue, messages: MessageRow[]): Promise<void> {
  for (let start = 0; start < messages.length; start += 10) {
    const chunk = messages.slice(start, start + 10)
    const result = await queue.enqueue(chunk.map((message) => ({id: message.id, body: encodeSendJob(sendJobOf(message)), attributes: sendJobAttributes(sendJobOf(message))})))
    if (result.failed.length > 0) throw new Error(`enqueue refused: ${JSON.stringify(result.failed)}`)
  }
}

export const LOCAL_SOURCE = {queueArn: 'arn:aws:sqs:us-east-1:000000000000:engageninja-messages-local', awsRegion: 'us-east-1'}

/** Receives up to `max` messages and turns them into the records of an SQS Lambda event. */
export async function receiveRecords(queue: MessageQueue, max = 10): Promise<SqsEventRecord[]> {
  const received = await queue.receive({max})
  return received.map((message) => toSqsEventRecord(message, LOCAL_SOURCE))
}

export interface DrainReport {
  rounds: number
  /** Every batch item failure the handler returned, in order. */
  failures: string[]
}

/**
 * Drives a handler over a queue as the SQS event source mapping does:
 * receive a batch, invoke, delete what succeeded, and make the reported
 * failures visible again at once (instead of waiting out the visibility
 * timeout). Stops when nothing is visible or in flight.
 */
export async function drainQueue(
  queue: MessageQueue,
  handler: (event: {Records: SqsEventRecord[]}) => Promise<{batchItemFailures: Array<{itemIdentifier: string}>}>,
  options: {maxRounds?: number; batchSize?: number} = {},
): Promise<DrainReport> {
  const report: DrainReport = {rounds: 0, failures: []}
  for (; report.rounds < (options.maxRounds ?? 200); report.rounds++) {
    const records = await receiveRecords(queue, options.batchSize ?? 10)
    if (records.length === 0) {
      const depth = await queue.depth()
      if (depth.visible === 0 && depth.inFlight === 0) return report
      // Something else holds a message (another consumer): give it a moment instead of spinning.
      await new Promise((resolve) => setTimeout(resolve, 20))
      continue
    }
    const {batchItemFailures} = await handler({Records: records})
    const failed = new Set(batchItemFailures.map((failure) => failure.itemIdentifier))
    report.failures.push(...failed)
    await queue.delete(records.filter((record) => !failed.has(record.messageId)).map((record) => record.receiptHandle))
    for (const record of records) if (failed.has(record.messageId)) await queue.changeVisibility(record.receiptHandle, 0)
  }
  throw new Error(`the queue did not drain in ${options.maxRounds ?? 200} rounds`)
}

/** A real HTTP server standing in for the status webhook: answers 204 and counts what it got. */
export interface CallbackSink {
  url: string
  received: Array<{path: string; body: string}>
  stop(): Promise<void>
}

export async function startCallbackSink(path = '/webhooks/twilio'): Promise<CallbackSink> {
  const received: CallbackSink['received'] = []
  const server: Server = createServer((request, response) => {
    let body = ''
    request.on('data', (chunk) => (body += chunk))
    request.on('end', () => {
      received.push({path: request.url ?? '', body})
      response.writeHead(204).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}${path}`,
    received,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
