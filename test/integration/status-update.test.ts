import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import type {ChannelSettingsRow} from '../../src/channel-settings/settings-repository.js'
import type {Keyring} from '../../src/crypto/encryption-key.js'
import type {Database} from '../../src/db/database.js'
import {storeProviderMessageId} from '../../src/messages/index.js'
import {runStatusUpdate, type StatusUpdateDeps} from '../../src/pipeline/status-update/index.js'
import {providerFromSettings} from '../../src/providers/provider-factory.js'
import {startTwilioSandbox, type TwilioSandbox} from '../../src/twilio-sandbox/index.js'
import {newSid} from '../../src/twilio-sandbox/ids.js'
import {DIALECTS} from '../support/databases.js'
import {closedPort, twilioSeed} from '../support/seed-fixtures.js'
import {eventsOf, insertMessages, insertTenant, keyringOf, messageRow, migratedStore, seedTwilioChannel, type MigratedStore} from '../support/webhook-messages.js'

const MINUTE = 60_000

describe.each(DIALECTS)('UpdateMessageStatus on %s', (dialect) => {
  let store: MigratedStore
  let database: Database
  let keyring: Keyring
  let sandbox: TwilioSandbox
  let fixture: ReturnType<typeof twilioSeed>
  let sms: ChannelSettingsRow

  beforeEach(async () => {
    store = await migratedStore(dialect)
    database = store.database
    keyring = keyringOf(store.encryptionKey)
    fixture = twilioSeed()
    sandbox = await startTwilioSandbox({seed: fixture.seed})
    // Callbacks go nowhere: only reconciliation can learn what happened.
    await sandbox.configure({callbacks: {maxAttempts: 1}})
    const webhookUrl = `http://127.0.0.1:${await closedPort()}/webhooks/twilio`
    await insertTenant(database, 'ten_a')
    await insertTenant(database, 'ten_mock')
    sms = await seedTwilioChannel(database, keyring, {tenantId: 'ten_a', channel: 'sms', accountSid: fixture.accountSid, authToken: fixture.authToken, serviceSid: fixture.serviceSid, webhookUrl})
    for (const channel of ['sms', 'whatsapp'] as const) {
      await seedTwilioChannel(database, keyring, {tenantId: 'ten_mock', channel, accountSid: fixture.accountSid, authToken: fixture.authToken, serviceSid: fixture.serviceSid, webhookUrl, providerConfig: {mock: true}})
    }
  })
  afterEach(async () => {
    await sandbox.stop()
    await store.dispose()
  })

  const deps = (extra: Partial<StatusUpdateDeps> = {}): StatusUpdateDeps => ({
    database,
    keyring,
    get: (name) => (name === 'TWILIO_API_BASE_URL' ? sandbox.url : undefined),
    mock: false,
    ...extra,
  })

  /** Sends through the sandbox and stores the SID as the sender does; returns the SID. */
  const sendAndStore = async (id: string, to = '+15551230001') => {
    await insertMessages(database, [{id, tenantId: 'ten_a', to}])
    const provider = await providerFromSettings(sms, {keyring, get: (name) => (name === 'TWILIO_API_BASE_URL' ? sandbox.url : undefined)})
    const sent = await provider.send({to, body: `hello ${id}`})
    await storeProviderMessageId(database, id, sent.providerMessageId, sent.status)
    return sent.providerMessageId
  }

  it('fetches stale messages from Twilio and records what it says; fresh ones are left alone', async () => {
    await sandbox.configure({failDelivery: {'+15551230002': 30007}})
    await sendAndStore('m_delivered')
    await sendAndStore('m_failed', '+15551230002')
    expect(await sandbox.settled(20_000)).toBe(true)

    const fresh = await runStatusUpdate(deps())
    const later = await runStatusUpdate(deps({now: () => new Date(Date.now() + 11 * MINUTE)}))
    const again = await runStatusUpdate(deps({now: () => new Date(Date.now() + 22 * MINUTE)}))

    expect(fresh).toEqual({advanced: 0, reconciled: 0, errors: 0, checked: 0})
    expect(later).toEqual({advanced: 0, reconciled: 2, errors: 0, checked: 2})
    expect(again).toEqual({advanced: 0, reconciled: 0, errors: 0, checked: 0})
    expect(await messageRow(database, 'm_delivered')).toMatchObject({status: 'delivered'})
    expect(await messageRow(database, 'm_failed')).toMatchObject({status: 'undelivered', error_code: '30007'})
    expect((await eventsOf(database, 'm_delivered')).filter((e) => e.source === 'reconcile').map((e) => [e.status, e.applied])).toEqual([['delivered', 1]])
  })

  it('a SID Twilio does not know is an error for that message only', async () => {
    await sendAndStore('m_ok')
    await insertMessages(database, [{id: 'm_ghost', tenantId: 'ten_a', status: 'sent', providerMessageId: newSid('SM')}])
    expect(await sandbox.settled(20_000)).toBe(true)

    const result = await runStatusUpdate(deps({now: () => new Date(Date.now() + 11 * MINUTE)}))

    expect(result).toEqual({advanced: 0, reconciled: 1, errors: 1, checked: 2})
    expect((await messageRow(database, 'm_ghost')).status).toBe('sent')
    expect((await messageRow(database, 'm_ok')).status).toBe('delivered')
  })

  it('mock mode moves mock-provider messages one step per tick, to read on WhatsApp; others and non-mock mode untouched', async () => {
    const now = () => new Date('2026-01-01T00:01:00.000Z')
    await insertMessages(database, [
      {id: 'mock_sms', tenantId: 'ten_mock', channel: 'sms', providerMessageId: 'mock-1'},
      {id: 'mock_wa', tenantId: 'ten_mock', channel: 'whatsapp', providerMessageId: 'mock-2'},
      {id: 'real_sms', tenantId: 'ten_a', channel: 'sms'},
    ])
    const off = await runStatusUpdate(deps({mock: false, now}))

    const ticks = []
    const statuses = []
    for (let i = 0; i < 4; i++) {
      ticks.push(await runStatusUpdate(deps({mock: true, now})))
      statuses.push([(await messageRow(database, 'mock_sms')).status, (await messageRow(database, 'mock_wa')).status])
    }

    expect(off.advanced).toBe(0)
    expect(ticks.map((t) => t.advanced)).toEqual([2, 2, 1, 0])
    expect(ticks.every((t) => t.errors === 0 && t.checked === 0)).toBe(true)
    expect(statuses).toEqual([['sent', 'sent'], ['delivered', 'delivered'], ['delivered', 'read'], ['delivered', 'read']])
    expect((await eventsOf(database, 'mock_wa')).map((e) => [e.status, e.source, e.applied])).toEqual([
      ['sent', 'mock', 1],
      ['delivered', 'mock', 1],
      ['read', 'mock', 1],
    ])
    expect((await messageRow(database, 'real_sms')).status).toBe('queued')
  })

  it('MOCK_PROVIDER turns mock mode on when the option is not given', async () => {
    await insertMessages(database, [{id: 'mock_sms', tenantId: 'ten_mock', channel: 'sms'}])

    const result = await runStatusUpdate({...deps(), mock: undefined, get: (name) => (name === 'MOCK_PROVIDER' ? 'true' : undefined)})

    expect(result.advanced).toBe(1)
    expect((await messageRow(database, 'mock_sms')).status).toBe('sent')
  })
})
