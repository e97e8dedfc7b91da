import {createHash} from 'node:crypto'
import {DELIVERY_ERROR_MESSAGES} from './api-error.js'
import type {DeliveryFailure} from './faults.js'
import {bareAddress} from './faults.js'
import type {Channel, MessageRecord, MessageStatus} from './state/store.js'

/**
 * The statuses a message goes through after it is created, in order.
 * Through a messaging service it is `accepted` at creation and reports
 * `queued` once a sender is picked; a direct send starts `queued`. WhatsApp
 * adds `read`. A failure ends in `failed` (refused before sending, e.g.
 * 63016) or `undelivered` (sent, then not delivered, e.g. 30003).
 */
export function planLifecycle(channel: Channel, viaService: boolean, failure?: DeliveryFailure): MessageStatus[] {
  const steps: MessageStatus[] = viaService ? ['queued'] : []
  if (failure) {
    const ending = failure.status ?? (failure.code === 63016 ? 'failed' : 'undelivered')
    return ending === 'failed' ? [...steps, 'failed'] : [...steps, 'sent', 'undelivered']
  }
  return [...steps, 'sent', 'delivered', ...(channel === 'whatsapp' ? (['read'] as const) : [])]
}

/** Moves a message to `status`, filling what Twilio fills at that point. */
export function applyStatus(message: MessageRecord, status: MessageStatus, failure: DeliveryFailure | undefined, now = new Date()): void {
  message.status = status
  message.dateUpdated = now
  if (message.from === null && status !== 'accepted') message.from = message.sender
  if (status === 'sent' && message.dateSent === null) message.dateSent = now
  if ((status === 'failed' || status === 'undelivered') && failure) {
    message.errorCode = failure.code
    message.errorMessage = DELIVERY_ERROR_MESSAGES[failure.code] ?? `Delivery failed (error ${failure.code})`
  }
}

/**
 * The form parameters of a status callback for the message as it is now,
 * named and valued as Twilio sends them for SMS and WhatsApp.
 */
export function statusCallbackParams(message: MessageRecord, now = new Date()): Record<string, string> {
  const params: Record<string, string> = {
    AccountSid: message.accountSid,
    ApiVersion: '2010-04-01',
    From: message.from ?? message.sender,
    MessageSid: message.sid,
    MessageStatus: message.status,
    SmsSid: message.sid,
    SmsStatus: message.status,
    To: message.to,
  }
  if (message.messagingServiceSid) params.MessagingServiceSid = message.messagingServiceSid
  if (message.errorCode !== null) params.ErrorCode = String(message.errorCode)
  if (message.channel === 'whatsapp') {
    params.ChannelPrefix = 'whatsapp'
    params.ChannelToAddress = bareAddress(message.to)
    params.ChannelInstallSid = 'XE' + createHash('sha256').update(message.sender).digest('hex').slice(0, 32)
    params.StructuredMessage = 'false'
  } else if (message.status === 'delivered' || message.status === 'undelivered') {
    params.RawDlrDoneDate = rawDlrDate(now)
  }
  return params
}

/** Carrier delivery-receipt time as Twilio relays it: YYMMDDhhmm, UTC. */
function rawDlrDate(date: Date): string {
  const two = (n: number) => String(n).padStart(2, '0')
  return `${two(date.getUTCFullYear() % 100)}${two(date.getUTCMonth() + 1)}${two(date.getUTCDate())}${two(date.getUTCHours())}${two(date.getUTCMinutes())}`
}

const GSM7 = new Set(
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€',
)

/** SMS segments for a body: 160/153 GSM-7 characters, or 70/67 UCS-2 units when any character is outside GSM-7. */
export function segmentCount(body: string): number {
  if (body.length === 0) return 1
  const gsm = [...body].every((char) => GSM7.has(char))
  const [single, multi] = gsm ? [160, 153] : [70, 67]
  return body.length <= single ? 1 : Math.ceil(body.length / multi)
}
