import {describe, expect, it} from 'vitest'
import {normaliseSesSeedInput} from '../../../src/channel-settings/seed-ses.js'
import {normaliseTwilioSeedInput, type TwilioSeedInput} from '../../../src/channel-settings/seed-twilio.js'

const hex32 = '0123456789abcdef0123456789abcdef'
const base: TwilioSeedInput = {
  tenant: 'acme',
  accountSid: `AC${hex32}`,
  authToken: 'token-value-0123456789',
  messagingServiceSid: `MG${hex32}`,
  channels: ['sms', 'whatsapp'],
  smsFrom: '+15005550006',
  whatsappFrom: 'whatsapp:+15005550008',
  webhookUrl: null,
  verify: true,
}

describe('normaliseTwilioSeedInput', () => {
  it('trims, deduplicates channels and strips the whatsapp: prefix', () => {
    const input = normaliseTwilioSeedInput({...base, channels: ['sms', 'sms', 'whatsapp'], accountSid: ` ${base.accountSid} `, authToken: ' t0ken-value \n'})

    expect(input).toMatchObject({channels: ['sms', 'whatsapp'], accountSid: base.accountSid, authToken: 't0ken-value', whatsappFrom: '+15005550008'})
  })

  it('drops a sender of a channel that is not seeded', () => {
    expect(normaliseTwilioSeedInput({...base, channels: ['sms']}).whatsappFrom).toBeUndefined()
  })

  it.each<[string, Partial<TwilioSeedInput>, RegExp]>([
    ['no channel', {channels: []}, /No channel to seed/],
    ['email on Twilio', {channels: ['email' as 'sms']}, /Twilio serves sms and whatsapp, not email/],
    ['sms without sender', {smsFrom: undefined}, /sms channel needs a sender/],
    ['whatsapp without sender', {whatsappFrom: undefined}, /whatsapp channel needs a WhatsApp sender/],
    ['an empty token', {authToken: '  '}, /auth token is empty/],
    ['a bad slug to create', {tenant: 'Acme Corp', createTenantName: 'Acme'}, /not a valid tenant slug/],
    ['an empty tenant name', {createTenantName: ' '}, /needs a tenant name/],
    ['a bad webhook URL', {webhookUrl: 'ftp://x'}, /not a usable webhook URL/],
  ])('refuses %s', (_name, patch, message) => {
    expect(() => normaliseTwilioSeedInput({...base, ...patch})).toThrow(message)
  })
})

describe('normaliseSesSeedInput', () => {
  const ses = {tenant: 'acme', from: 'news@acme.example', region: 'eu-west-1'}

  it('accepts an IAM-role input and drops empty optional values', () => {
    expect(normaliseSesSeedInput({...ses, configurationSet: ' ', accessKeyId: '', secretAccessKey: ''})).toMatchObject({
      configurationSet: undefined,
      accessKeyId: undefined,
      secretAccessKey: undefined,
    })
  })

  it.each([
    ['half a key pair', {accessKeyId: 'AKIAIOSFODNN7EXAMPLE'}, /must be set together/],
    ['a lower-case access key id', {accessKeyId: 'akia-not-a-key', secretAccessKey: 's'}, /not an access key id/],
    ['a region typo', {region: 'eu-west'}, /not an AWS region name/],
    ['a configuration set with spaces', {configurationSet: 'my set'}, /--configuration-set must be/],
  ])('refuses %s', (_name, patch, message) => {
    expect(() => normaliseSesSeedInput({...ses, ...patch})).toThrow(message)
  })
})
