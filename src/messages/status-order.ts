/**
 * The message status machine. Statuses only move forward:
 * queued < sending < sent < delivered < read. `failed` and `undelivered` are
 * final outcomes: they rank beside `delivered` (a delivered message does not
 * become failed because a late callback says so) and nothing moves a message
 * out of them. Provider callbacks arrive out of order and more than once, so
 * every writer compares ranks instead of trusting arrival order.
 */
export const MESSAGE_STATUSES = ['queued', 'sending', 'sent', 'delivered', 'read', 'failed', 'undelivered'] as const
export type MessageStatus = (typeof MESSAGE_STATUSES)[number]

export const FINAL_STATUSES: readonly MessageStatus[] = ['failed', 'undelivered']

/** Higher is further along. A status in the database that is not one of ours (legacy words) ranks below queued. */
export const STATUS_RANK: Readonly<Record<MessageStatus, number>> = {
  queued: 0,
  sending: 1,
  sent: 2,
  delivered: 3,
  failed: 3,
  undelivered: 3,
  read: 4,
}

export const UNKNOWN_STATUS_RANK = -1

export function isMessageStatus(word: string): word is MessageStatus {
  return (MESSAGE_STATUSES as readonly string[]).includes(word)
}

export function isFinalStatus(status: string): boolean {
  return (FINAL_STATUSES as readonly string[]).includes(status)
}

export function statusRank(status: string): number {
  return isMessageStatus(status) ? STATUS_RANK[status] : UNKNOWN_STATUS_RANK
}

export type StatusMove = 'applied' | 'duplicate' | 'backwards' | 'after-final'

/** What writing `next` over `current` does: the same decision the conditional UPDATE in status-store makes. */
export function classifyMove(current: string, next: MessageStatus): StatusMove {
  if (current === next) return 'duplicate'
  if (isFinalStatus(current)) return 'after-final'
  return statusRank(next) > statusRank(current) ? 'applied' : 'backwards'
}

const TWILIO_WORDS: Readonly<Record<string, MessageStatus>> = {
  accepted: 'queued',
  scheduled: 'queued',
  queued: 'queued',
  sending: 'sending',
  sent: 'sent',
  delivered: 'delivered',
  read: 'read',
  failed: 'failed',
  undelivered: 'undelivered',
  canceled: 'failed',
}

const SES_WORDS: Readonly<Record<string, MessageStatus>> = {accepted: 'sent'}

/**
 * Our status for a provider's status word (Twilio's MessageStatus, SES's
 * acceptance), or undefined for a word with no meaning here (e.g. Twilio's
 * inbound `receiving` / `received`), which callers reject rather than guess.
 */
export function fromProviderStatus(provider: 'twilio' | 'ses', word: string): MessageStatus | undefined {
  const table = provider === 'ses' ? SES_WORDS : TWILIO_WORDS
  const key = word.trim().toLowerCase()
  return Object.prototype.hasOwnProperty.call(table, key) ? table[key] : undefined
}

/** SQL CASE giving a status column's rank, for conditional updates (`column` is code, never input). */
export function statusRankSql(column: string): string {
  const arms = MESSAGE_STATUSES.map((status) => `WHEN '${status}' THEN ${STATUS_RANK[status]}`).join(' ')
  return `(CASE ${column} ${arms} ELSE ${UNKNOWN_STATUS_RANK} END)`
}
