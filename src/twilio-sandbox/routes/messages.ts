import {createHash} from 'node:crypto'
import {twilioErrors} from '../api-error.js'
import type {SandboxContext} from '../context.js'
import {single, type FormParams} from '../http.js'
import {newSid} from '../ids.js'
import {segmentCount} from '../lifecycle.js'
import {isE164} from '../seed.js'
import type {AccountRecord, Channel, MessageRecord} from '../state/store.js'

function channelOf(address: string): Channel | 'other' {
  if (address.startsWith('whatsapp:')) return 'whatsapp'
  return address.includes(':') ? 'other' : 'sms'
}

/**
 * Message create as Twilio validates it, in Twilio's order: injected faults
 * (429/500) first, then To, sender (From or MessagingServiceSid), Body,
 * recipient refusals. Every call is counted, whatever its outcome; an
 * accepted message starts its status lifecycle and callbacks.
 */
export function createMessage(context: SandboxContext, account: AccountRecord, form: FormParams): MessageRecord {
  const {store, faults} = context
  const to = single(form, 'To') ?? ''
  const body = single(form, 'Body') ?? ''
  const statusCallback = single(form, 'StatusCallback') || null
  const fault = faults.nextSendFault()
  if (fault) {
    store.countAttempt(to, body, statusCallback, 'faulted')
    throw fault
  }
  try {
    const message = validate(context, account, form, to, body, statusCallback)
    store.messages.set(message.sid, message)
    store.countAttempt(to, body, statusCallback, 'accepted', message.sid)
    context.callbacks.start(message, faults.callbacks, faults.deliveryFailure(to))
    return message
  } catch (error) {
    store.countAttempt(to, body, statusCallback, 'rejected')
    throw error
  }
}

function validate(context: SandboxContext, account: AccountRecord, form: FormParams, to: string, body: string, statusCallback: string | null): MessageRecord {
  if (account.status !== 'active') throw twilioErrors.accountNotActive()
  if (!to) throw twilioErrors.toRequired()
  const channel = channelOf(to)
  if (channel === 'other' || !isE164(to.replace(/^whatsapp:/, ''))) throw twilioErrors.invalidTo(to)
  const from = single(form, 'From')
  const serviceSid = single(form, 'MessagingServiceSid')
  const services = context.store.servicesOf(account.sid)
  let sender: string
  let messagingServiceSid: string | null = null
  if (from) {
    if (channelOf(from) !== channel) throw twilioErrors.channelMismatch()
    const owned = services.some((service) => service.senders.some((s) => s.address === from))
    if (!owned) throw channel === 'whatsapp' ? twilioErrors.unknownChannelFrom() : twilioErrors.invalidFrom(from)
    sender = from
    // A From with a service still records the service, as Twilio does.
    if (serviceSid) messagingServiceSid = serviceSid
  } else if (serviceSid) {
    const service = services.find((s) => s.sid === serviceSid)
    if (!service) throw twilioErrors.invalidService(serviceSid)
    const candidates = service.senders.filter((s) => s.channel === channel)
    if (candidates.length === 0) throw channel === 'whatsapp' ? twilioErrors.unknownChannelFrom() : twilioErrors.invalidFrom(`(service ${serviceSid})`)
    // Sticky sender: the same recipient always gets the same number of the pool.
    const pick = createHash('sha256').update(to).digest().readUInt32BE(0) % candidates.length
    sender = candidates[pick]!.address
    messagingServiceSid = service.sid
  } else {
    throw twilioErrors.fromRequired()
  }
  const mediaUrls = form.MediaUrl === undefined ? [] : ([] as string[]).concat(form.MediaUrl)
  if (!body && mediaUrls.length === 0 && !single(form, 'ContentSid')) throw twilioErrors.bodyRequired()
  const refusal = context.faults.recipientRejection(to)
  if (refusal) throw refusal
  const now = new Date()
  const viaService = messagingServiceSid !== null && !from
  return {
    sid: newSid(mediaUrls.length > 0 ? 'MM' : 'SM'),
    accountSid: account.sid,
    messagingServiceSid,
    to,
    from: viaService ? null : sender,
    sender,
    body,
    channel,
    status: viaService ? 'accepted' : 'queued',
    numSegments: segmentCount(body),
    numMedia: mediaUrls.length,
    errorCode: null,
    errorMessage: null,
    statusCallback,
    dateCreated: now,
    dateUpdated: now,
    dateSent: null,
  }
}
