import type {Channel, ProviderName} from '../channel-settings/settings-repository.js'

/** One message to send. `to` is E.164 for sms/whatsapp (no `whatsapp:` prefix needed) or an email address. */
export interface OutboundMessage {
  to: string
  body: string
  /** Email only (required there). */
  subject?: string
  /** Twilio status callback for this message; defaults to the channel's webhook URL. */
  statusCallback?: string
}

export interface SendResult {
  providerMessageId: string
  /** The provider's own status word at acceptance (Twilio `queued`/`accepted`; SES `accepted`). */
  status: string
}

export interface ProviderMessageStatus {
  providerMessageId: string
  status: string
  errorCode: string | null
  errorMessage: string | null
}

/**
 * What the sender pipeline needs from a provider, whatever it is. Built by
 * the provider factory from a tenant's unified settings row; errors are
 * ProviderErrors whose `details.retryable` says whether a retry may help.
 */
export interface MessageProvider {
  readonly provider: ProviderName
  readonly channel: Channel
  /** False when the settings were stored without (successful) verification. */
  readonly verified: boolean
  send(message: OutboundMessage): Promise<SendResult>
  /** Current status at the provider, where the provider can be asked (Twilio). */
  fetch?(providerMessageId: string): Promise<ProviderMessageStatus>
}
