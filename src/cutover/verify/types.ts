import type {MessagingChannel} from '../../messaging/recipients.js'

/** The hops a smoke message goes through, in order. */
export const HOPS = ['enqueued', 'sent', 'delivered', 'read', 'sse'] as const
export type HopName = (typeof HOPS)[number]

/** When a hop was reached: the time, and milliseconds since its campaign's enqueue began. */
export interface HopTime {
  at: string
  ms: number
}

/** One smoke message and how far it got. */
export interface VerifiedMessage {
  tenant: string
  channel: MessagingChannel
  to: string
  campaignId: string
  messageId: string
  /** The message's status when following stopped. */
  status: string
  /** The hops this message had to reach (email stops at `sent`: SES reports no delivery locally; `read` only for WhatsApp with requireRead). */
  required: HopName[]
  hops: Partial<Record<HopName, HopTime>>
  ok: boolean
  /** The first required hop not reached, when not ok. */
  failedHop?: HopName
  /** Why: the provider's reason, or "not reached within N ms". */
  failure?: string
}

export interface VerifyReport {
  ok: boolean
  /** The queue the flag selected: 'local' (the database) or 'sqs'. */
  path: 'local' | 'sqs'
  queue: string
  /** The SSE stream followed, or null when none was configured (the `sse` hop is then not required). */
  eventsUrl: string | null
  requireRead: boolean
  timeoutMs: number
  startedAt: string
  finishedAt: string
  campaigns: Array<{tenant: string; channel: MessagingChannel; campaignId: string; recipients: number}>
  /** Enabled, verified channels left out, and why (no test recipient for them). */
  skipped: Array<{tenant: string; channel: MessagingChannel; reason: string}>
  messages: VerifiedMessage[]
}
