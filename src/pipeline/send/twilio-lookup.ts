/** One message as Twilio's Messages list returns it (the SDK's MessageInstance satisfies it). */
export interface ListedTwilioMessage {
  sid: string
  to: string
  from: string | null
  body: string
  messagingServiceSid: string | null
  status: string
  dateCreated: Date
}

/** A page of the Messages list as the `twilio` SDK returns it. */
export interface ListedTwilioPage {
  instances: ListedTwilioMessage[]
  nextPage(): Promise<ListedTwilioPage> | undefined
}

/** The slice of the `twilio` SDK client the lookup uses: the account's Messages list filtered by To. */
export interface TwilioMessageLister {
  messages: {page(params: {to: string; pageSize: number}): Promise<ListedTwilioPage>}
}

/** What the sender sent, or would have sent, for one message. */
export interface TwilioSendFingerprint {
  /** On the wire: `+1…` or `whatsapp:+1…`. */
  to: string
  body: string
  /** Set when sends go through the messaging service (Twilio then reports no From until a sender is picked). */
  messagingServiceSid: string | null
  /** The From address on the wire, when there is no messaging service. */
  from: string | null
  /** No send of it can be older: the message row's created_at. */
  since: Date
}

export type TwilioLookup =
  | {kind: 'found'; sid: string; status: string; duplicates: string[]}
  | {kind: 'absent'}
  /** Messages that may be this one but do not match exactly: never resend, never guess. */
  | {kind: 'ambiguous'; sids: string[]}
  /** The search hit its page limit before the end of the list. */
  | {kind: 'inconclusive'}

export interface TwilioLookupOptions {
  /** SIDs engage already stored on other message rows: those messages are not this one. */
  storedElsewhere(sids: string[]): Promise<Set<string>>
  /** Allowance for the clock difference between engage and Twilio (default 60 s). */
  clockSkewMs?: number
  pageSize?: number
  maxPages?: number
}

/**
 * Whether Twilio already has the message an earlier, interrupted attempt
 * may have created. Twilio keeps no caller reference on a message (no
 * idempotency key, and the status-callback URL is not returned by the API),
 * and its list filters only by To, From and DateSent; DateSent is empty
 * until a message leaves Twilio, and with a messaging service From is empty
 * until a sender is picked. So the search is: every message of the account
 * to this recipient (the To filter, which Twilio and the sandbox both
 * support), all pages up to a bound, and a candidate is one created no
 * earlier than the message row (less a clock-skew allowance; a floor that
 * outlives any number of interrupted claims), from our messaging
 * service or sender, whose SID no other message row holds. Exactly one
 * candidate with our body is ours. Candidates that differ in body only
 * (another message to the same person in the same minutes, or a body the
 * provider re-encoded) make the answer `ambiguous`, and a list longer than
 * the bound `inconclusive`: in both cases the caller must not send again.
 * Only an exhausted list without candidates is `absent`.
 */
export async function findTwilioMessage(client: TwilioMessageLister, sent: TwilioSendFingerprint, options: TwilioLookupOptions): Promise<TwilioLookup> {
  const earliest = sent.since.getTime() - (options.clockSkewMs ?? 60_000) - 1_000 // Twilio dates have whole seconds.
  const maxPages = options.maxPages ?? 20
  const candidates: ListedTwilioMessage[] = []
  let page: ListedTwilioPage | undefined = await client.messages.page({to: sent.to, pageSize: options.pageSize ?? 100})
  let pages = 0
  while (page) {
    pages++
    for (const message of page.instances) {
      if (message.to !== sent.to || message.dateCreated.getTime() < earliest) continue
      const ours = sent.messagingServiceSid ? message.messagingServiceSid === sent.messagingServiceSid : message.from === sent.from
      if (ours) candidates.push(message)
    }
    const next: Promise<ListedTwilioPage> | undefined = page.nextPage()
    if (next && pages >= maxPages) return {kind: 'inconclusive'}
    page = next ? await next : undefined
  }
  if (candidates.length === 0) return {kind: 'absent'}
  const taken = await options.storedElsewhere(candidates.map((message) => message.sid))
  const free = candidates.filter((message) => !taken.has(message.sid))
  if (free.length === 0) return {kind: 'absent'}
  const sameBody = free.filter((message) => message.body === sent.body)
  if (sameBody.length > 0 && sameBody.length === free.length) {
    // More than one exact copy means earlier attempts already sent twice: adopt the oldest, report the rest.
    const [oldest, ...others] = [...sameBody].sort((a, b) => a.dateCreated.getTime() - b.dateCreated.getTime())
    return {kind: 'found', sid: oldest!.sid, status: oldest!.status, duplicates: others.map((message) => message.sid)}
  }
  return {kind: 'ambiguous', sids: free.map((message) => message.sid)}
}
