import type {Logger} from '../../cli/logger.js'
import {openCredentials, type TwilioCredentials} from '../../channel-settings/credentials.js'
import type {ChannelSettingsRow} from '../../channel-settings/settings-repository.js'
import type {Keyring} from '../../crypto/encryption-key.js'
import type {MessageProvider} from '../../providers/message-provider.js'
import {providerFromSettings} from '../../providers/provider-factory.js'
import {createTwilioClient, preloadTwilio} from '../../providers/twilio/twilio-client.js'
import {WHATSAPP_PREFIX, stripWhatsAppPrefix} from '../../validation/e164.js'
import type {TwilioMessageLister} from './twilio-lookup.js'

/** A provider ready to send for one tenant's channel, and what reconciliation needs beside it. */
export interface ChannelSender {
  provider: MessageProvider
  /** Twilio only: the account's Messages list, to find a message an interrupted attempt may have created. */
  twilio?: {
    lister: TwilioMessageLister
    messagingServiceSid: string | null
    /** The From address on the wire when there is no messaging service. */
    from: string | null
    /** A recipient as it appears on the wire (`whatsapp:` prefixed for WhatsApp). */
    address(to: string): string
  }
}

export interface ProviderCacheOptions {
  keyring: Keyring
  get: (name: string) => string | undefined
  logger?: Logger
}

/**
 * Providers built from settings rows, kept for the processor's lifetime
 * (a warm Lambda reuses them): keyed by tenant and channel, and rebuilt when
 * the row's `updated_at` changes, so a re-seed (new token, new service) is
 * used from the next record on. Builds in progress are shared, so a batch of
 * one tenant's messages decrypts and loads the SDK once.
 */
export class ProviderCache {
  private readonly entries = new Map<string, {updatedAt: string; sender: Promise<ChannelSender>}>()

  constructor(private readonly options: ProviderCacheOptions) {}

  senderFor(row: ChannelSettingsRow): Promise<ChannelSender> {
    const key = `${row.tenant_id}\u0000${row.channel}`
    const cached = this.entries.get(key)
    if (cached && cached.updatedAt === row.updated_at) return cached.sender
    const sender = this.build(row)
    this.entries.set(key, {updatedAt: row.updated_at, sender})
    // A failed build (disabled channel, missing credentials) is not cached: the next record tries again.
    sender.catch(() => {
      if (this.entries.get(key)?.sender === sender) this.entries.delete(key)
    })
    return sender
  }

  private async build(row: ChannelSettingsRow): Promise<ChannelSender> {
    if (row.provider === 'twilio') await preloadTwilio()
    const provider = await providerFromSettings(row, {keyring: this.options.keyring, get: this.options.get, logger: this.options.logger})
    if (row.provider !== 'twilio') return {provider}
    // providerFromSettings has just opened these credentials successfully.
    const credentials = openCredentials<TwilioCredentials>(this.options.keyring, row)!
    const client = createTwilioClient({
      accountSid: credentials.accountSid,
      authToken: credentials.authToken,
      baseUrl: this.options.get('TWILIO_API_BASE_URL') || undefined,
    })
    const whatsapp = row.channel === 'whatsapp'
    const address = (number: string) => (whatsapp ? `${WHATSAPP_PREFIX}${stripWhatsAppPrefix(number)}` : number)
    return {
      provider,
      twilio: {
        lister: client as unknown as TwilioMessageLister,
        messagingServiceSid: row.messaging_service_sid,
        from: row.messaging_service_sid || !row.sender ? null : address(row.sender),
        address,
      },
    }
  }
}
