import {ProviderError} from '../../errors/engage-error.js'
import {redact} from '../../channel-settings/redact.js'
import {stripWhatsAppPrefix} from '../../validation/e164.js'
import {createTwilioClient} from './twilio-client.js'
import {toProviderError} from './twilio-errors.js'

/** What `seed twilio` asks Twilio to confirm before it stores anything. */
export interface TwilioVerificationRequest {
  accountSid: string
  authToken: string
  messagingServiceSid: string
  /** SMS sender in E.164: must be one of the service's phone numbers. */
  smsSender?: string
  /** WhatsApp sender in E.164 (no `whatsapp:` prefix): must be one of the service's WhatsApp channel senders. */
  whatsappSender?: string
  /** TWILIO_API_BASE_URL: the local sandbox instead of api.twilio.com. */
  baseUrl?: string
}

export interface TwilioVerification {
  accountStatus: string
  accountFriendlyName?: string
  serviceFriendlyName?: string
  verifiedAt: string
}

/**
 * Confirms with the Twilio REST API, through the `twilio` SDK, that the
 * account authenticates and is active, that the messaging service belongs to
 * it, and that each sender is in the service's sender pool (SMS: its phone
 * numbers; WhatsApp: its channel senders). Any failure is a
 * ProviderError whose `details.verificationError` is the recordable form
 * ("20003: Authenticate").
 */
export async function verifyTwilio(request: TwilioVerificationRequest): Promise<TwilioVerification> {
  const client = await createTwilioClient({accountSid: request.accountSid, authToken: request.authToken, baseUrl: request.baseUrl, timeoutMs: 15_000})
  const accountLabel = redact(request.accountSid)
  let account: {status: string; friendlyName?: string}
  try {
    account = await client.api.v2010.accounts(request.accountSid).fetch()
  } catch (error) {
    throw toProviderError(error, `fetching account ${accountLabel}`, request.baseUrl)
  }
  if (account.status !== 'active') {
    throw new ProviderError(`The Twilio account ${accountLabel} is ${account.status}, not active.`, {
      code: 'TWILIO_ACCOUNT_NOT_ACTIVE',
      suggestions: ['Reactivate the account in the Twilio console, or seed a different one.'],
      details: {verificationError: `account ${account.status}`},
    })
  }
  let service: {accountSid: string; friendlyName?: string}
  try {
    service = await client.messaging.v1.services(request.messagingServiceSid).fetch()
  } catch (error) {
    if ((error as {status?: number}).status === 404) throw serviceNotFound(request.messagingServiceSid, accountLabel)
    throw toProviderError(error, `fetching messaging service ${request.messagingServiceSid}`, request.baseUrl)
  }
  if (service.accountSid !== request.accountSid) throw serviceNotFound(request.messagingServiceSid, accountLabel)
  const serviceApi = client.messaging.v1.services(request.messagingServiceSid)
  const missing: string[] = []
  try {
    if (request.smsSender !== undefined) {
      const numbers = (await serviceApi.phoneNumbers.list()).map((entry) => entry.phoneNumber)
      if (!numbers.includes(request.smsSender)) missing.push(request.smsSender)
    }
    if (request.whatsappSender !== undefined) {
      // WhatsApp senders are the service's channel senders ("whatsapp:+1…"); compared without the prefix.
      const senders = (await serviceApi.channelSenders.list()).map((entry) => stripWhatsAppPrefix(entry.sender))
      if (!senders.includes(stripWhatsAppPrefix(request.whatsappSender))) missing.push(`whatsapp:${stripWhatsAppPrefix(request.whatsappSender)}`)
    }
  } catch (error) {
    throw toProviderError(error, `listing the senders of messaging service ${request.messagingServiceSid}`, request.baseUrl)
  }
  if (missing.length > 0) {
    throw new ProviderError(
      `${missing.join(', ')} ${missing.length === 1 ? 'is not a sender' : 'are not senders'} of messaging service ${request.messagingServiceSid}.`,
      {
        code: 'TWILIO_SENDER_NOT_IN_SERVICE',
        suggestions: ['Add the number to the messaging service\'s sender pool in the Twilio console, or pass the number that is in it.'],
        details: {verificationError: `sender not in service: ${missing.join(', ')}`, senders: missing},
      },
    )
  }
  return {
    accountStatus: account.status,
    accountFriendlyName: account.friendlyName,
    serviceFriendlyName: service.friendlyName,
    verifiedAt: new Date().toISOString(),
  }
}

function serviceNotFound(serviceSid: string, accountLabel: string | null): ProviderError {
  return new ProviderError(`The messaging service ${serviceSid} does not exist in account ${accountLabel}.`, {
    code: 'TWILIO_SERVICE_NOT_FOUND',
    suggestions: ['Check --messaging-service-sid: it must be a service of this account (Messaging → Services in the console).'],
    details: {verificationError: `20404: messaging service ${serviceSid} not found`},
  })
}
