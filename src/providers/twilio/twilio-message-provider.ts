import type {Channel} from '../../channel-settings/settings-repository.js'
import {stripWhatsAppPrefix, WHATSAPP_PREFIX} from '../../validation/e164.js'
import type {MessageProvider, OutboundMessage, ProviderMessageStatus, SendResult} from '../message-provider.js'
import {toProviderError} from './twilio-errors.js'

/** The slice of the `twilio` SDK client the providers use (the real client satisfies it). */
export interface TwilioMessagesClient {
  messages: {
    create(params: {
      to: string
      body: string
      from?: string
      messagingServiceSid?: string
      statusCallback?: string
    }): Promise<{sid: string; status: string}>
    (sid: string): {fetch(): Promise<{sid: string; status: string; errorCode: number | null; errorMessage: string | null}>}
  }
}

export interface TwilioProviderConfig {
  /** Preferred: Twilio picks the sender from the service's pool for the recipient's channel. */
  messagingServiceSid: string | null
  /** Used as `From` only when there is no messaging service. E.164, no prefix. */
  sender: string | null
  /** The channel's webhook URL: the default status callback. */
  statusCallback: string | null
  verified: boolean
  /** TWILIO_API_BASE_URL, named in "unreachable" errors. */
  baseUrl?: string
}

/**
 * Twilio Programmable Messaging for one tenant's channel. SMS and WhatsApp
 * differ only in addressing: WhatsApp recipients and senders carry the
 * `whatsapp:` prefix on the wire, which this class adds.
 */
abstract class TwilioMessageProvider implements MessageProvider {
  readonly provider = 'twilio' as const
  abstract readonly channel: Extract<Channel, 'sms' | 'whatsapp'>

  constructor(
    protected readonly client: TwilioMessagesClient,
    protected readonly config: TwilioProviderConfig,
  ) {}

  get verified(): boolean {
    return this.config.verified
  }

  protected abstract address(number: string): string

  async send(message: OutboundMessage): Promise<SendResult> {
    const params: Parameters<TwilioMessagesClient['messages']['create']>[0] = {to: this.address(message.to), body: message.body}
    if (this.config.messagingServiceSid) params.messagingServiceSid = this.config.messagingServiceSid
    else if (this.config.sender) params.from = this.address(this.config.sender)
    const callback = message.statusCallback ?? this.config.statusCallback
    if (callback) params.statusCallback = callback
    try {
      const created = await this.client.messages.create(params)
      return {providerMessageId: created.sid, status: created.status}
    } catch (error) {
      throw toProviderError(error, `sending a ${this.channel} message`, this.config.baseUrl)
    }
  }

  async fetch(providerMessageId: string): Promise<ProviderMessageStatus> {
    try {
      const message = await this.client.messages(providerMessageId).fetch()
      return {
        providerMessageId: message.sid,
        status: message.status,
        errorCode: message.errorCode === null || message.errorCode === undefined ? null : String(message.errorCode),
        errorMessage: message.errorMessage ?? null,
      }
    } catch (error) {
      throw toProviderError(error, `fetching message ${providerMessageId}`, this.config.baseUrl)
    }
  }
}

export class TwilioSmsProvider extends TwilioMessageProvider {
  readonly channel = 'sms' as const
  protected address(number: string): string {
    return number
  }
}

export class TwilioWhatsAppProvider extends TwilioMessageProvider {
  readonly channel = 'whatsapp' as const
  protected address(number: string): string {
    return `${WHATSAPP_PREFIX}${stripWhatsAppPrefix(number)}`
  }
}
