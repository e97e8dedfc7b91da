import {TwilioApiError, twilioErrors} from '../api-error.js'
import type {SandboxContext} from '../context.js'
import {single, type FormParams, type RouteResult} from '../http.js'
import {accountJson, channelSenderJson, messageJson, phoneNumberJson, serviceJson, v1Page, MESSAGING_HOST} from '../resources.js'
import type {AccountRecord} from '../state/store.js'
import {createMessage} from './messages.js'

/** Which Twilio product a request is for: each has its own host in the real API. */
export type Product = 'api' | 'messaging'

export interface RestRequest {
  product: Product
  method: string
  path: string
  query: FormParams
  form: FormParams
  account: AccountRecord
}

const SID = '([A-Z]{2}[0-9a-fA-F]{32})'
const ACCOUNT = new RegExp(`^/2010-04-01/Accounts/${SID}\\.json$`)
const MESSAGES = new RegExp(`^/2010-04-01/Accounts/${SID}/Messages\\.json$`)
const MESSAGE = new RegExp(`^/2010-04-01/Accounts/${SID}/Messages/${SID}\\.json$`)
const SERVICE = new RegExp(`^/v1/Services/${SID}$`)
const SERVICE_LIST = new RegExp(`^/v1/Services/${SID}/(PhoneNumbers|ChannelSenders)$`)
const SERVICE_ITEM = new RegExp(`^/v1/Services/${SID}/(PhoneNumbers|ChannelSenders)/${SID}$`)

const methodNotAllowed = () => new TwilioApiError(405, 20004, 'Method not allowed')

/**
 * The slice of Twilio's REST API engage uses, for an authenticated account:
 * account fetch, message create/fetch/list (2010-04-01), messaging service
 * fetch and its phone numbers and channel senders (Messaging v1).
 */
export function handleRest(context: SandboxContext, request: RestRequest): RouteResult {
  const {store} = context
  const {account, method, path} = request
  const notFound = () => twilioErrors.notFound(path)
  const ownAccount = (sid: string | undefined) => {
    // Another account's resources do not authenticate with these credentials.
    if (sid !== account.sid) throw twilioErrors.authenticate()
  }
  if (request.product === 'api') {
    let match: RegExpExecArray | null
    if ((match = ACCOUNT.exec(path))) {
      ownAccount(match[1])
      if (method !== 'GET') throw methodNotAllowed()
      return {status: 200, body: accountJson(account)}
    }
    if ((match = MESSAGES.exec(path))) {
      ownAccount(match[1])
      if (method === 'POST') return {status: 201, body: messageJson(createMessage(context, account, request.form))}
      if (method !== 'GET') throw methodNotAllowed()
      return {status: 200, body: messageListPage(context, account, request.query)}
    }
    if ((match = MESSAGE.exec(path))) {
      ownAccount(match[1])
      if (method !== 'GET') throw methodNotAllowed()
      const message = store.messages.get(match[2] ?? '')
      if (!message || message.accountSid !== account.sid) throw notFound()
      return {status: 200, body: messageJson(message)}
    }
    throw notFound()
  }
  const serviceMatch = SERVICE.exec(path) ?? SERVICE_LIST.exec(path) ?? SERVICE_ITEM.exec(path)
  if (!serviceMatch) throw notFound()
  const service = store.services.get(serviceMatch[1] ?? '')
  if (!service || service.accountSid !== account.sid) throw notFound()
  if (method !== 'GET') throw methodNotAllowed()
  const kind = serviceMatch[2]
  if (!kind) return {status: 200, body: serviceJson(service)}
  const whatsapp = kind === 'ChannelSenders'
  const senders = service.senders.filter((sender) => (sender.channel === 'whatsapp') === whatsapp)
  const render = (sender: (typeof senders)[number]) => (whatsapp ? channelSenderJson(service, sender) : phoneNumberJson(service, sender))
  const itemSid = serviceMatch[3]
  if (itemSid) {
    const sender = senders.find((s) => s.sid === itemSid)
    if (!sender) throw notFound()
    return {status: 200, body: render(sender)}
  }
  const {page, pageSize} = paging(request.query)
  const key = whatsapp ? 'senders' : 'phone_numbers'
  return {status: 200, body: v1Page(key, `${MESSAGING_HOST}/v1/Services/${service.sid}/${kind}`, senders.map(render), page, pageSize)}
}

function paging(query: FormParams): {page: number; pageSize: number} {
  const pageSize = Math.min(1000, Math.max(1, Number.parseInt(single(query, 'PageSize') ?? '50', 10) || 50))
  const page = Math.max(0, Number.parseInt(single(query, 'Page') ?? '0', 10) || 0)
  return {page, pageSize}
}

/** Messages of the account, newest first, optionally filtered by To and From, in the 2010-04-01 page shape. */
function messageListPage(context: SandboxContext, account: AccountRecord, query: FormParams): Record<string, unknown> {
  const to = single(query, 'To')
  const from = single(query, 'From')
  const all = [...context.store.messages.values()]
    .filter((m) => m.accountSid === account.sid && (!to || m.to === to) && (!from || m.from === from))
    .reverse()
  const {page, pageSize} = paging(query)
  const start = page * pageSize
  const items = all.slice(start, start + pageSize)
  const uri = (n: number) => `/2010-04-01/Accounts/${account.sid}/Messages.json?PageSize=${pageSize}&Page=${n}`
  return {
    end: start + Math.max(items.length - 1, 0),
    first_page_uri: uri(0),
    messages: items.map(messageJson),
    next_page_uri: start + pageSize < all.length ? uri(page + 1) : null,
    page,
    page_size: pageSize,
    previous_page_uri: page > 0 ? uri(page - 1) : null,
    start,
    uri: uri(page),
  }
}
