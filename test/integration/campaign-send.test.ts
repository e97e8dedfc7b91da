import {randomUUID} from 'node:crypto'
import {ReceiveMessageCommand, SQSClient} from '@aws-sdk/client-sqs'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import {campaignMessageId} from '../../src/campaigns/message-ids.js'
import type {Database} from '../../src/db/database.js'
import {decodeSendJob} from '../../src/pipeline/send-job.js'
import {LOCAL_QUEUE_NAME} from '../../src/queue/local/local-queue.js'
import {ensureQueues, messagesQueueDefinition} from '../../src/queue/sqs/queue-definitions.js'
import {createTenant} from '../../src/tenants/tenant-repository.js'
import {DIALECTS, type TestDatabase} from '../support/databases.js'
import {startFauxqs, type FauxqsServer} from '../support/fauxqs.js'
import {runCli} from '../support/run-cli.js'
import {migratedDatabase, parseJson} from '../support/seed-fixtures.js'

interface SendReport {
  campaignId: string
  created: number
  existing: number
  enqueued: number
  queue: string
  skipped: {optedOut: number; noAddress: number}
  warnings: string[]
}

describe.each(DIALECTS)('engage campaign send (%s)', (dialect) => {
  let testDb: TestDatabase
  let database: Database
  let fauxqs: FauxqsServer
  let sqsClient: SQSClient
  let tenantId: string
  let slug: string
  let counter = 0

  beforeAll(async () => {
    ;[testDb, fauxqs] = await Promise.all([migratedDatabase(dialect), startFauxqs()])
    database = await testDb.open()
    sqsClient = new SQSClient(fauxqs.clientConfig)
  })
  afterAll(async () => {
    sqsClient?.destroy()
    await fauxqs?.stop()
    await testDb?.dispose()
  })
  beforeEach(async () => {
    slug = `acme-${++counter}`
    tenantId = (await createTenant(database.db, {slug, name: 'Acme'})).id
  })

  /** Contacts written directly, as the backend (or legacy data) would: import would refuse the bad ones. */
  const addContacts = async (rows: Array<{phone?: string | null; email?: string | null; opted_out?: number}>) => {
    const now = new Date().toISOString()
    const values = rows.map((row, index) => ({
      id: randomUUID(),
      tenant_id: tenantId,
      name: `Contact ${index}`,
      phone: row.phone ?? null,
      email: row.email ?? null,
      opted_out: row.opted_out ?? 0,
      created_at: now,
    }))
    await database.db.insertInto('contacts').values(values).execute()
    return values
  }
  const phones = (n: number) => Array.from({length: n}, (_, i) => ({phone: `+1415555${String(1000 + i)}`}))
  const newCampaign = async (channel: 'sms' | 'whatsapp' | 'email' = 'sms') => {
    const result = await runCli(['campaign', 'create', '--tenant', slug, '--channel', channel, '--body', 'Hello', ...(channel === 'email' ? ['--subject', 'News'] : []), '--database-url', testDb.url])
    expect(result.code, result.stderr).toBe(0)
    return result.stdout.trim()
  }
  const send = (campaignId: string, env: Record<string, string> = {}, ...extra: string[]) =>
    runCli(['campaign', 'send', '--tenant', slug, '--campaign', campaignId, '--database-url', testDb.url, ...extra], {env})
  const messageRows = (campaignId: string) =>
    database.db.selectFrom('messages').selectAll().where('campaign_id', '=', campaignId).orderBy('id').execute()
  const localJobs = async (campaignId: string) => {
    const rows = await database.db.selectFrom('local_queue_messages').select(['body', 'attributes_json']).where('queue_name', '=', LOCAL_QUEUE_NAME).execute()
    return rows.map((row) => ({job: decodeSendJob(row.body as string), attributes: JSON.parse(row.attributes_json as string)})).filter((item) => item.job.campaignId === campaignId)
  }
  const campaignRow = (campaignId: string) => database.db.selectFrom('campaigns').selectAll().where('id', '=', campaignId).executeTakeFirstOrThrow()

  it('an invalid address refuses the whole send, listing the contacts; nothing is written or queued', async () => {
    const contacts = await addContacts([...phones(3), {phone: '+1 415 555 0000'}, {phone: '0044 20 7946 0958'}, {phone: 'whatever', opted_out: 1}])
    const campaignId = await newCampaign()

    const result = await send(campaignId)

    expect(result.code).toBe(2)
    expect(result.stderr).toContain('Error [CAMPAIGN_INVALID_RECIPIENTS]: 2 contact(s) have an invalid phone; nothing was created or queued.')
    expect(result.stderr).toContain(`contact ${contacts[3]!.id}: the phone number is not in E.164 format`)
    expect(result.stderr).toContain(`contact ${contacts[4]!.id}:`)
    // The opted-out contact's bad number does not matter: it is never sent to.
    expect(result.stderr).not.toContain(contacts[5]!.id)
    expect(await messageRows(campaignId)).toEqual([])
    expect(await localJobs(campaignId)).toEqual([])
    expect(await campaignRow(campaignId)).toMatchObject({status: 'draft', sent_at: null})
  })

  it('an invalid email refuses an email campaign', async () => {
    const contacts = await addContacts([{email: 'ok@example.com'}, {email: 'broken@@example.com'}, {phone: '+14155550100'}])
    const campaignId = await newCampaign('email')

    const result = await send(campaignId, {}, '--json')

    expect(result.code).toBe(2)
    const {error} = parseJson<{error: {code: string; details: {invalid: Array<{contactId: string}>}}}>(result)
    expect(error.code).toBe('CAMPAIGN_INVALID_RECIPIENTS')
    expect(error.details.invalid.map((item) => item.contactId)).toEqual([contacts[1]!.id])
    expect(await messageRows(campaignId)).toEqual([])
  })

  it('creates one message per eligible contact and queues N jobs on the local queue; a re-run creates no duplicate rows', async () => {
    const contacts = await addContacts([...phones(23), {phone: '+14155559999', opted_out: 1}, {email: 'only-mail@example.com'}])
    const campaignId = await newCampaign()

    const first = await send(campaignId, {}, '--json')

    expect(first.code, first.stderr).toBe(0)
    const report = parseJson<SendReport>(first)
    expect(report).toMatchObject({campaignId, created: 23, existing: 0, enqueued: 23, queue: 'local', skipped: {optedOut: 1, noAddress: 1}})
    // No channel settings were seeded: said, not refused.
    expect(report.warnings.join(' ')).toContain('no enabled sms settings')
    const rows = await messageRows(campaignId)
    expect(rows).toHaveLength(23)
    const expectedIds = contacts.slice(0, 23).map((contact) => campaignMessageId(campaignId, contact.id)).sort()
    expect(rows.map((row) => row.id)).toEqual(expectedIds)
    expect(rows.every((row) => row.status === 'queued' && row.channel === 'sms' && row.tenant_id === tenantId)).toBe(true)
    expect(new Set(rows.map((row) => row.to_address))).toEqual(new Set(contacts.slice(0, 23).map((contact) => contact.phone)))
    const jobs = await localJobs(campaignId)
    expect(jobs.map((item) => item.job.messageId).sort()).toEqual(expectedIds)
    expect(jobs[0]!.attributes).toEqual({tenantId, channel: 'sms', campaignId})
    const campaign = await campaignRow(campaignId)
    expect(campaign.status).toBe('sending')
    expect(campaign.sent_at).toEqual(expect.any(String))

    // A sender has claimed 3 and sent 2 in the meantime; a contact is added after the first send.
    await database.db.updateTable('messages').set({send_claim_id: 'claim-1', attempts: 1}).where('id', 'in', expectedIds.slice(0, 3)).execute()
    await database.db.updateTable('messages').set({status: 'sent', provider_message_id: 'SM1', attempts: 1}).where('id', 'in', expectedIds.slice(3, 5)).execute()
    await addContacts([{phone: '+14155558888'}])
    const again = await send(campaignId, {}, '--json')

    expect(again.code, again.stderr).toBe(0)
    expect(parseJson<SendReport>(again)).toMatchObject({created: 0, existing: 23, enqueued: 18})
    expect(await messageRows(campaignId)).toHaveLength(23)
    // The 18 untouched messages were queued once more (harmless: the sender claims before sending); the others were not.
    const counts = new Map<string, number>()
    for (const item of await localJobs(campaignId)) counts.set(item.job.messageId, (counts.get(item.job.messageId) ?? 0) + 1)
    expect(expectedIds.slice(0, 5).map((id) => counts.get(id))).toEqual([1, 1, 1, 1, 1])
    expect(expectedIds.slice(5).every((id) => counts.get(id) === 2)).toBe(true)
    expect((await campaignRow(campaignId)).sent_at).toBe(campaign.sent_at)
  })

  it('WhatsApp rows carry the bare E.164 number; --dry-run writes nothing', async () => {
    await addContacts(phones(4))
    const campaignId = await newCampaign('whatsapp')

    const dry = await send(campaignId, {}, '--dry-run', '--json')
    expect(dry.code, dry.stderr).toBe(0)
    expect(parseJson<SendReport>(dry)).toMatchObject({created: 4, enqueued: 0})
    expect(await messageRows(campaignId)).toEqual([])
    expect((await campaignRow(campaignId)).status).toBe('draft')

    const real = await send(campaignId)
    expect(real.code, real.stderr).toBe(0)
    expect(real.stdout).toContain('Created 4 messages')
    expect((await messageRows(campaignId)).map((row) => row.to_address).sort()).toEqual(phones(4).map((p) => p.phone))
  })

  it('with USE_AWS_QUEUE, queues the N jobs on SQS (fauxqs); a re-run creates no duplicate rows', async () => {
    const queues = await ensureQueues(sqsClient, messagesQueueDefinition(`send-${dialect}-${counter}`))
    const contacts = await addContacts(phones(25))
    const campaignId = await newCampaign()
    const env = {USE_AWS_QUEUE: 'true', SQS_QUEUE_URL: queues.queueUrl, SQS_ENDPOINT: fauxqs.endpoint, AWS_REGION: fauxqs.region}

    const first = await send(campaignId, env, '--json')

    expect(first.code, first.stderr).toBe(0)
    expect(parseJson<SendReport>(first)).toMatchObject({created: 25, enqueued: 25, queue: 'sqs'})
    const received = await drainSqs(queues.queueUrl)
    const expectedIds = contacts.map((contact) => campaignMessageId(campaignId, contact.id)).sort()
    expect(received.map((message) => decodeSendJob(message.Body!).messageId).sort()).toEqual(expectedIds)
    expect(received[0]!.MessageAttributes?.campaignId?.StringValue).toBe(campaignId)
    expect(await localJobs(campaignId)).toEqual([])

    const again = await send(campaignId, env, '--json')
    expect(again.code, again.stderr).toBe(0)
    expect(parseJson<SendReport>(again)).toMatchObject({created: 0, existing: 25})
    expect(await messageRows(campaignId)).toHaveLength(25)
  })

  it('an enqueue failure names the failed ids and exits non-zero; a re-run queues them', async () => {
    const queues = await ensureQueues(sqsClient, messagesQueueDefinition(`fail-${dialect}-${counter}`))
    await addContacts(phones(12))
    const campaignId = await newCampaign()
    const base = {USE_AWS_QUEUE: 'yes', SQS_ENDPOINT: fauxqs.endpoint, AWS_REGION: fauxqs.region}

    const failed = await send(campaignId, {...base, SQS_QUEUE_URL: `${queues.queueUrl}-missing`}, '--json')

    expect(failed.code).toBe(6)
    const {error} = parseJson<{error: {code: string; suggestions: string[]; details: {failedIds: string[]}}}>(failed)
    expect(error.code).toBe('CAMPAIGN_ENQUEUE_FAILED')
    expect(error.suggestions.join(' ')).toContain(`engage campaign send --tenant ${slug} --campaign ${campaignId}`)
    const rows = await messageRows(campaignId)
    expect(error.details.failedIds.sort()).toEqual(rows.map((row) => row.id))

    const retried = await send(campaignId, {...base, SQS_QUEUE_URL: queues.queueUrl}, '--json')

    expect(retried.code, retried.stderr).toBe(0)
    expect(parseJson<SendReport>(retried)).toMatchObject({created: 0, existing: 12, enqueued: 12})
    expect((await drainSqs(queues.queueUrl)).map((message) => decodeSendJob(message.Body!).messageId).sort()).toEqual(rows.map((row) => row.id))
  })

  it('USE_AWS_QUEUE without SQS_QUEUE_URL is a usage error naming the variable; nothing written', async () => {
    await addContacts(phones(2))
    const campaignId = await newCampaign()

    const missing = await send(campaignId, {USE_AWS_QUEUE: '1'})
    const typo = await send(campaignId, {USE_AWS_QUEUE: 'ture'})

    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('Error [SQS_QUEUE_URL_MISSING]: USE_AWS_QUEUE is on but SQS_QUEUE_URL is not set.')
    expect(typo.code).toBe(2)
    expect(typo.stderr).toContain('USE_AWS_QUEUE_INVALID')
    expect(await messageRows(campaignId)).toEqual([])
  })

  it('a campaign of another tenant is not found; no contacts is a usage error', async () => {
    const campaignId = await newCampaign()
    const other = await createTenant(database.db, {slug: `other-${counter}`, name: 'Other'})

    const empty = await send(campaignId)
    const foreign = await runCli(['campaign', 'send', '--tenant', other.slug, '--campaign', campaignId, '--database-url', testDb.url])

    expect(empty.code).toBe(2)
    expect(empty.stderr).toContain('CAMPAIGN_NO_RECIPIENTS')
    expect(foreign.code).toBe(7)
    expect(foreign.stderr).toContain('CAMPAIGN_NOT_FOUND')
  })

  /** Receives and deletes everything visible on an SQS queue. */
  async function drainSqs(queueUrl: string) {
    const all: Array<{Body?: string; MessageAttributes?: Record<string, {StringValue?: string}>}> = []
    for (;;) {
      const {Messages = []} = await sqsClient.send(new ReceiveMessageCommand({QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, MessageAttributeNames: ['All'], VisibilityTimeout: 300}))
      if (Messages.length === 0) return all
      all.push(...Messages)
    }
  }
})
