/** Status words engage stores on messages and events (migration 0005's contract). */
export type MessageStatusWord = 'queued' | 'sending' | 'sent' | 'delivered' | 'read' | 'failed' | 'undelivered'

/** Statuses after which the sender never calls the provider again for a message. */
export const SENT_OR_FINAL: readonly MessageStatusWord[] = ['sent', 'delivered', 'read', 'failed', 'undelivered']

/**
 * engage's word for the status a provider answered a send with. Acceptance
 * (Twilio `accepted`/`queued`/`scheduled`/`sending`, SES `accepted`) means the
 * message has left engage: `sent`. A provider that answers with a later or
 * final status already (rare, but Twilio can) keeps it.
 */
export function statusAfterAcceptance(providerStatus: string): MessageStatusWord {
  switch (providerStatus.toLowerCase()) {
    case 'delivered':
      return 'delivered'
    case 'read':
      return 'read'
    case 'failed':
    case 'canceled':
      return 'failed'
    case 'undelivered':
      return 'undelivered'
    default:
      return 'sent'
  }
}
