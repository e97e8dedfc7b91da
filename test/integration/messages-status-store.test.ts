import {execFile} from 'node:child_process'
import {join} from 'node:path'
import {promisify} from 'node:util'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import type {Database} from '../../src/db/database.js'
import {
  applyStatus,
  findMessageByProviderId,
  keepPendingCallback,
  storeProviderMessageId,
  type StatusUpdate,
} from '../../src/messages/index.js'
import {DIALECTS} from '../support/databases.js'
import {PROJECT_ROOT} from '../support/run-cli.js'
import {eventsOf, insertMessages, insertTenant, messageRow, migratedStore, statusWriteCounts, type MigratedStore} from '../support/webhook-messages.js'

describe.each(DIALECTS)('message status store on %s', (dialect) => {
  let store: MigratedStore
  let database: Database

  beforeEach(async () => {
    store = await migratedStore(dialect)
    database = store.database
    await insertTenant(database, 'ten_a')
    await insertTenant(database, 'ten_b')
  })
  afterEach(() => store.dispose())

  const update = (messageId: string, status: string, extra: Partial<StatusUpdate> = {}): StatusUpdate => ({messageId, status, source: 'twilio-webhook', ...extra})

  it('applies forward moves and records duplicates, backwards and after-final moves without touching the message', async () => {
    await insertMessages(database, [{id: 'm1', tenantId: 'ten_a'}])

    const outcomes = []
    for (const [status, at] of [['sent', '2026-01-02T00:00:01.000Z'], ['delivered', '2026-01-02T00:00:02.000Z'], ['delivered', '2026-01-02T00:00:03.000Z'], ['sent', '2026-01-02T00:00:04.000Z']] as const) {
      outcomes.push((await applyStatus(database, update('m1', status, {at}))).outcome)
    }
    const message = await messageRow(database, 'm1')
    const events = await eventsOf(database, 'm1')

    expect(outcomes).toEqual(['applied', 'applied', 'duplicate', 'backwards'])
    expect(message).toMatchObject({status: 'delivered', updated_at: '2026-01-02T00:00:02.000Z'})
    expect(events.map((e) => [e.status, e.applied, e.source])).toEqual([
      ['sent', 1, 'twilio-webhook'],
      ['delivered', 1, 'twilio-webhook'],
      ['delivered', 0, 'twilio-webhook'],
      ['sent', 0, 'twilio-webhook'],
    ])
  })

  it('a failure stores the reason and error code on the message; nothing moves it afterwards', async () => {
    await insertMessages(database, [{id: 'm1', tenantId: 'ten_a', status: 'sent'}])

    const failed = await applyStatus(database, update('m1', 'undelivered', {reason: '30007: Carrier violation', providerStatus: 'undelivered'}))
    const late = await applyStatus(database, update('m1', 'delivered'))
    const message = await messageRow(database, 'm1')
    const events = await eventsOf(database, 'm1')

    expect(failed.outcome).toBe('applied')
    expect(late.outcome).toBe('after-final')
    expect(message).toMatchObject({status: 'undelivered', status_reason: '30007: Carrier violation', error_code: '30007', error_message: 'Carrier violation'})
    expect(events.map((e) => [e.status, e.applied, e.status_reason, e.provider_status])).toEqual([
      ['undelivered', 1, '30007: Carrier violation', 'undelivered'],
      ['delivered', 0, null, null],
    ])
  })

  it('maps Twilio words and refuses unknown ones and unknown messages, writing nothing', async () => {
    await insertMessages(database, [{id: 'm1', tenantId: 'ten_a'}])
    const before = await statusWriteCounts(database)

    const unknownWord = await applyStatus(database, update('m1', 'received')).catch((error: unknown) => error)
    const unknownMessage = await applyStatus(database, update('nope', 'sent')).catch((error: unknown) => error)
    const after = await statusWriteCounts(database)
    const canceled = await applyStatus(database, update('m1', 'canceled'))

    expect(unknownWord).toMatchObject({code: 'UNKNOWN_MESSAGE_STATUS'})
    expect(unknownMessage).toMatchObject({code: 'MESSAGE_NOT_FOUND'})
    expect(after).toEqual(before)
    expect(canceled.outcome).toBe('applied')
    expect((await messageRow(database, 'm1')).status).toBe('failed')
  })

  it('runs in the caller transaction when given one: a rollback leaves nothing behind', async () => {
    await insertMessages(database, [{id: 'm1', tenantId: 'ten_a'}])
    const before = await statusWriteCounts(database)

    const rolledBack = await database.db
      .transaction()
      .execute(async (trx) => {
        await applyStatus(trx, update('m1', 'delivered'))
        throw new Error('caller gives up')
      })
      .catch((error: Error) => error.message)

    expect(rolledBack).toBe('caller gives up')
    expect(await statusWriteCounts(database)).toEqual(before)
  })

  it('many concurrent reports in mixed order end at the highest status with one applied event per forward step', async () => {
    const ids = Array.from({length: 20}, (_, i) => `c${i}`)
    await insertMessages(database, ids.map((id) => ({id, tenantId: 'ten_a'})))
    const words = ['sending', 'sent', 'delivered', 'read']
    const reports = ids.flatMap((id, i) =>
      Array.from({length: 3}, () => words.map((status) => update(id, status, {source: 'reconcile'}))).flat().sort(() => (i % 2 ? 1 : -1) * (Math.random() - 0.3)),
    )
    // A second connection pool on PostgreSQL so the reports really race on separate connections.
    const other = dialect === 'postgres' ? await store.testDatabase.open() : database

    const results = await Promise.all(reports.map((report, i) => applyStatus(i % 2 ? other : database, report)))
    const rows = await database.db.selectFrom('messages').select(['id', 'status']).where('id', 'in', ids).execute()
    const events = await database.db.selectFrom('message_status_events').select(['message_id', 'status', 'applied']).where('message_id', 'in', ids).orderBy('id').execute()

    expect(rows.every((row) => row.status === 'read')).toBe(true)
    expect(events).toHaveLength(reports.length)
    expect(results.filter((r) => r.outcome === 'applied').length).toBe(events.filter((e) => Number(e.applied) === 1).length)
    for (const id of ids) {
      const applied = events.filter((e) => e.message_id === id && Number(e.applied) === 1).map((e) => e.status)
      // Each status applies at most once and the sequence is strictly forward; 'read' always applies.
      const ranks = applied.map((status) => words.indexOf(status))
      expect(ranks).toEqual([...ranks].sort((a, b) => a - b))
      expect(new Set(applied).size).toBe(applied.length)
      expect(applied.at(-1)).toBe('read')
    }
    const appliedIds = results.filter((r) => r.outcome === 'applied').map((r) => r.eventId)
    expect(new Set(appliedIds).size).toBe(appliedIds.length)
  })

  it('writers in separate processes racing over the same messages still move each one forward only, once per step', async () => {
    const ids = ['p0', 'p1', 'p2', 'p3']
    await insertMessages(database, ids.map((id) => ({id, tenantId: 'ten_a'})))
    const words = ['sending', 'sent', 'delivered', 'read']
    const runner = join(PROJECT_ROOT, 'test', 'support', 'webhook-apply-runner.ts')
    const batches = [0, 1, 2, 3].map((p) => ids.flatMap((id) => (p % 2 ? [...words].reverse() : words).map((status) => update(id, status, {source: 'reconcile'}))))

    const outputs = await Promise.all(
      batches.map((batch) => promisify(execFile)(process.execPath, ['--import', 'tsx', runner, store.testDatabase.url, JSON.stringify(batch)], {cwd: PROJECT_ROOT})),
    )
    const outcomes = outputs.flatMap((output) => JSON.parse(output.stdout) as {outcome: string}[])
    const events = await database.db.selectFrom('message_status_events').select(['message_id', 'status', 'applied']).where('message_id', 'in', ids).orderBy('id').execute()

    expect(outcomes).toHaveLength(64)
    for (const id of ids) {
      expect((await messageRow(database, id)).status).toBe('read')
      const applied = events.filter((e) => e.message_id === id && Number(e.applied) === 1).map((e) => words.indexOf(e.status))
      expect(applied).toEqual([...new Set(applied)].sort((a, b) => a - b))
      expect(applied.at(-1)).toBe(3)
    }
    expect(events.filter((e) => Number(e.applied) === 1)).toHaveLength(outcomes.filter((o) => o.outcome === 'applied').length)
  })

  it('a kept callback is applied when the SID is stored, in order received, and only for its tenant', async () => {
    await insertMessages(database, [{id: 'm1', tenantId: 'ten_a', status: 'sending'}])
    await keepPendingCallback(database.db, {providerMessageId: 'SM1', tenantId: 'ten_a', status: 'delivered', params: {MessageSid: 'SM1', MessageStatus: 'delivered'}, receivedAt: '2026-01-02T00:00:02.000Z'})
    await keepPendingCallback(database.db, {providerMessageId: 'SM1', tenantId: 'ten_a', status: 'sent', params: {MessageSid: 'SM1', MessageStatus: 'sent'}, receivedAt: '2026-01-02T00:00:01.000Z'})
    await keepPendingCallback(database.db, {providerMessageId: 'SM1', tenantId: 'ten_b', status: 'failed', params: {MessageSid: 'SM1', MessageStatus: 'failed', ErrorCode: '30008'}, receivedAt: '2026-01-02T00:00:03.000Z'})
    const beforeStore = await findMessageByProviderId(database, 'SM1')

    const stored = await storeProviderMessageId(database, 'm1', 'SM1', 'queued', {at: '2026-01-02T00:00:00.500Z'})
    const message = await messageRow(database, 'm1')
    const events = await eventsOf(database, 'm1')
    const pending = await database.db.selectFrom('pending_status_callbacks').select(['tenant_id', 'applied_at']).orderBy('id').execute()
    const found = await findMessageByProviderId(database, 'SM1')
    const otherTenant = await findMessageByProviderId(database, 'SM1', 'ten_b')

    expect(beforeStore).toBeUndefined()
    expect(stored.accepted.outcome).toBe('backwards')
    expect(stored.pendingApplied.map((r) => r.outcome)).toEqual(['applied', 'applied'])
    expect(stored.appliedEventIds).toHaveLength(2)
    expect(message).toMatchObject({status: 'delivered', provider_message_id: 'SM1', sent_at: '2026-01-02T00:00:00.500Z'})
    expect(events.map((e) => [e.status, e.applied, e.source])).toEqual([
      ['queued', 0, 'send'],
      ['sent', 1, 'twilio-webhook'],
      ['delivered', 1, 'twilio-webhook'],
    ])
    expect(pending.every((row) => row.applied_at === '2026-01-02T00:00:00.500Z')).toBe(true)
    expect(found).toMatchObject({id: 'm1', tenant_id: 'ten_a', status: 'delivered'})
    expect(otherTenant).toBeUndefined()
  })

  it('storing the same SID twice is harmless; a different SID for a sent message is refused', async () => {
    await insertMessages(database, [{id: 'm1', tenantId: 'ten_a'}])

    const first = await storeProviderMessageId(database, 'm1', 'SM1', 'accepted')
    const again = await storeProviderMessageId(database, 'm1', 'SM1', 'queued')
    const conflict = await storeProviderMessageId(database, 'm1', 'SM2', 'queued').catch((error: unknown) => error)

    expect(first.accepted.outcome).toBe('duplicate')
    expect(again.accepted.outcome).toBe('duplicate')
    expect(conflict).toMatchObject({code: 'PROVIDER_MESSAGE_ID_CONFLICT'})
    expect((await messageRow(database, 'm1')).provider_message_id).toBe('SM1')
  })

  it('SES acceptance means sent', async () => {
    await insertMessages(database, [{id: 'e1', tenantId: 'ten_a', channel: 'email'}])

    const stored = await storeProviderMessageId(database, 'e1', '0100018c-ses-id', 'accepted')

    expect(stored.accepted.outcome).toBe('applied')
    expect((await messageRow(database, 'e1')).status).toBe('sent')
  })
})
