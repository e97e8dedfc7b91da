import type {AccountRecord, MessageRecord, SenderRecord, ServiceRecord} from './state/store.js'

/**
 * JSON representations of the resources, field for field as Twilio returns
 * them: the 2010-04-01 API uses RFC 2822 dates and string counts, the
 * Messaging v1 API ISO 8601 dates. URLs name Twilio's hosts, as the real
 * API does; the SDK's HTTP client maps them back to the sandbox.
 */
export const API_HOST = 'https://api.twilio.com'
export const MESSAGING_HOST = 'https://messaging.twilio.com'

const rfc2822 = (date: Date) => date.toUTCString().replace('GMT', '+0000')
const iso8601 = (date: Date) => date.toISOString().replace(/\.\d{3}Z$/, 'Z')

export function accountJson(account: AccountRecord): Record<string, unknown> {
  const base = `/2010-04-01/Accounts/${account.sid}`
  return {
    auth_token: account.authToken,
    date_created: rfc2822(account.dateCreated),
    date_updated: rfc2822(account.dateUpdated),
    friendly_name: account.friendlyName,
    owner_account_sid: account.sid,
    sid: account.sid,
    status: account.status,
    subresource_uris: {
      addresses: `${base}/Addresses.json`,
      incoming_phone_numbers: `${base}/IncomingPhoneNumbers.json`,
      messages: `${base}/Messages.json`,
      balance: `${base}/Balance.json`,
    },
    type: 'Full',
    uri: `${base}.json`,
  }
}

export function messageJson(message: MessageRecord): Record<string, unknown> {
  const uri = `/2010-04-01/Accounts/${message.accountSid}/Messages/${message.sid}`
  return {
    account_sid: message.accountSid,
    api_version: '2010-04-01',
    body: message.body,
    date_created: rfc2822(message.dateCreated),
    date_sent: message.dateSent ? rfc2822(message.dateSent) : null,
    date_updated: rfc2822(message.dateUpdated),
    direction: 'outbound-api',
    error_code: message.errorCode,
    error_message: message.errorMessage,
    from: message.from,
    messaging_service_sid: message.messagingServiceSid,
    num_media: String(message.numMedia),
    // Through a service no sender is assigned yet while accepted, so Twilio reports 0 segments.
    num_segments: message.status === 'accepted' ? '0' : String(message.numSegments),
    price: null,
    price_unit: 'USD',
    sid: message.sid,
    status: message.status,
    subresource_uris: {media: `${uri}/Media.json`, feedback: `${uri}/Feedback.json`},
    to: message.to,
    uri: `${uri}.json`,
  }
}

export function serviceJson(service: ServiceRecord): Record<string, unknown> {
  const url = `${MESSAGING_HOST}/v1/Services/${service.sid}`
  return {
    account_sid: service.accountSid,
    area_code_geomatch: true,
    date_created: iso8601(service.dateCreated),
    date_updated: iso8601(service.dateUpdated),
    fallback_method: 'POST',
    fallback_to_long_code: true,
    fallback_url: null,
    friendly_name: service.friendlyName,
    inbound_method: 'POST',
    inbound_request_url: null,
    links: {
      channel_senders: `${url}/ChannelSenders`,
      phone_numbers: `${url}/PhoneNumbers`,
      short_codes: `${url}/ShortCodes`,
      alpha_senders: `${url}/AlphaSenders`,
      messages: `${url}/Messages`,
      us_app_to_person: `${url}/Compliance/Usa2p`,
      us_app_to_person_usecases: `${url}/Compliance/Usa2p/Usecases`,
    },
    mms_converter: true,
    scan_message_content: 'inherit',
    sid: service.sid,
    smart_encoding: true,
    status_callback: null,
    sticky_sender: true,
    synchronous_validation: false,
    url,
    us_app_to_person_registered: false,
    use_inbound_webhook_on_number: false,
    usecase: 'marketing',
    validity_period: 14400,
  }
}

export function phoneNumberJson(service: ServiceRecord, sender: SenderRecord): Record<string, unknown> {
  return {
    account_sid: service.accountSid,
    capabilities: ['SMS', 'MMS'],
    country_code: countryOf(sender.address),
    date_created: iso8601(sender.dateCreated),
    date_updated: iso8601(sender.dateCreated),
    phone_number: sender.address,
    service_sid: service.sid,
    sid: sender.sid,
    url: `${MESSAGING_HOST}/v1/Services/${service.sid}/PhoneNumbers/${sender.sid}`,
  }
}

export function channelSenderJson(service: ServiceRecord, sender: SenderRecord): Record<string, unknown> {
  return {
    account_sid: service.accountSid,
    country_code: countryOf(sender.address),
    date_created: iso8601(sender.dateCreated),
    date_updated: iso8601(sender.dateCreated),
    messaging_service_sid: service.sid,
    sender: sender.address,
    sender_type: 'WhatsApp',
    sid: sender.sid,
    url: `${MESSAGING_HOST}/v1/Services/${service.sid}/ChannelSenders/${sender.sid}`,
  }
}

/** A list page in the Messaging v1 shape (`meta.key` names the array). */
export function v1Page(
  key: string,
  listUrl: string,
  items: Array<Record<string, unknown>>,
  page: number,
  pageSize: number,
): Record<string, unknown> {
  const start = page * pageSize
  const pageUrl = (n: number) => `${listUrl}?PageSize=${pageSize}&Page=${n}`
  return {
    [key]: items.slice(start, start + pageSize),
    meta: {
      first_page_url: pageUrl(0),
      key,
      next_page_url: start + pageSize < items.length ? pageUrl(page + 1) : null,
      page,
      page_size: pageSize,
      previous_page_url: page > 0 ? pageUrl(page - 1) : null,
      url: pageUrl(page),
    },
  }
}

function countryOf(address: string): string {
  return address.replace(/^whatsapp:/, '').startsWith('+1') ? 'US' : 'ZZ'
}
