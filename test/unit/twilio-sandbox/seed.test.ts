import {describe, expect, it} from 'vitest'
import {UsageError} from '../../../src/errors/engage-error.js'
import {isSid, redactSecret} from '../../../src/twilio-sandbox/ids.js'
import {defaultSeed, parseSeed} from '../../../src/twilio-sandbox/seed.js'
import {SandboxStore} from '../../../src/twilio-sandbox/state/store.js'

const ACCOUNT = 'AC' + 'a'.repeat(32)
const TOKEN = 'secret-token-0123456789'

describe('parseSeed', () => {
  it('accepts the default seed', () => {
    const seed = defaultSeed()
    expect(parseSeed(seed)).toEqual(seed)
    expect(isSid(seed.accounts[0]?.sid, 'AC')).toBe(true)
  })

  it.each([
    ['a malformed account sid', {accounts: [{sid: 'AC123', authToken: TOKEN}]}, /accounts\[0\]\.sid/],
    ['an unknown status', {accounts: [{sid: ACCOUNT, authToken: TOKEN, status: 'frozen'}]}, /status/],
    ['a too short token', {accounts: [{sid: ACCOUNT, authToken: 'short'}]}, /authToken/],
    ['a number not in E.164', {accounts: [], services: [{sid: 'MG' + 'b'.repeat(32), accountSid: ACCOUNT, phoneNumbers: ['5551234']}]}, /E\.164/],
    ['a seed without accounts', {}, /"accounts"/],
  ])('refuses %s without echoing the token', (_label, input, message) => {
    let thrown: unknown
    try {
      parseSeed(input)
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(UsageError)
    expect((thrown as Error).message).toMatch(message)
    expect((thrown as Error).message).not.toContain(TOKEN)
  })
})

describe('SandboxStore.seed', () => {
  it('refuses a service of an unknown account and adds nothing', () => {
    const store = new SandboxStore()
    expect(() =>
      store.seed({accounts: [{sid: ACCOUNT, authToken: TOKEN}], services: [{sid: 'MG' + 'b'.repeat(32), accountSid: 'AC' + 'c'.repeat(32), phoneNumbers: []}]}),
    ).toThrow(/unknown account/)
    expect(store.accounts.size).toBe(0)
  })

  it('puts a WhatsApp sender number in the phone-number pool as well', () => {
    const store = new SandboxStore()
    store.seed({accounts: [{sid: ACCOUNT, authToken: TOKEN}], services: [{sid: 'MG' + 'b'.repeat(32), accountSid: ACCOUNT, phoneNumbers: ['whatsapp:+15005550008']}]})
    const senders = store.services.get('MG' + 'b'.repeat(32))?.senders.map((s) => [s.channel, s.address, s.sid.slice(0, 2)])
    expect(senders).toEqual([
      ['whatsapp', 'whatsapp:+15005550008', 'XE'],
      ['sms', '+15005550008', 'PN'],
    ])
  })
})

describe('redactSecret', () => {
  it('keeps four characters each side and hides short values', () => {
    expect(redactSecret('ab12cd34ef56gh78ij90kl12mn3489ef')).toBe('ab12…89ef')
    expect(redactSecret('short')).toBe('…')
  })
})
