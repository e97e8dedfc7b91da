import {isFinalStatus, statusRank, STATUS_RANK, type MessageStatus} from '../../messages/status-order.js'

/** True once a message is sent or further along, or final: the sender never calls the provider for it again. */
export function isSentOrFinal(status: string): boolean {
  return isFinalStatus(status) || statusRank(status) >= STATUS_RANK.sent
}

/**
 * engage's status for the word a provider answered a send with. Acceptance
 * (Twilio `accepted`/`queued`/`scheduled`/`sending`, SES `accepted`) means
 * the message has left engage: `sent`. A later or final word (a reconciled
 * message Twilio has delivered or read by now) is kept.
 */
export function statusAfterAcceptance(providerStatus: string): MessageStatus {
  switch (providerStatus.trim().toLowerCase()) {
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
