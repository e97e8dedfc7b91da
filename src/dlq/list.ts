import type {Database} from '../db/database.js'
import type {SettingsReader} from '../queue/select-queue.js'
import {requireTenant} from '../tenants/tenant-repository.js'
import {openDeadLetterSources} from './open-sources.js'
import type {DlqKind, HeldDeadLetter} from './sources.js'

export interface DeadLetterListing {
  queue: DlqKind
  id: string
  /** The `messages` row the job points at (null when the body is not a send job). */
  messageId: string | null
  tenantId: string | null
  campaignId: string | null
  channel: string | null
  receiveCount: number
  reason: string | null
  /** Seconds since it was dead-lettered (local) or first queued (SQS, which does not say when it moved it). */
  ageSeconds: number
}

export interface DlqListOptions {
  queue?: DlqKind
  /** Tenant slug or id. */
  tenant?: string
  now?: () => number
}

// SQS: how long listed messages stay hidden before they are handed back (they are released at once after the listing).
const LIST_HOLD_SECONDS = 30

/**
 * The dead letters of the local table and/or the SQS DLQ, optionally of
 * one tenant. Reading an SQS queue means receiving: the listed messages are
 * hidden while they are read and released right after (their receive count
 * goes up by one, as with the console's "poll for messages").
 */
export async function listDeadLetters(database: Database, settings: SettingsReader, options: DlqListOptions = {}): Promise<DeadLetterListing[]> {
  const tenantId = options.tenant === undefined ? undefined : (await requireTenant(database.db, options.tenant)).id
  const now = (options.now ?? Date.now)()
  const listing: DeadLetterListing[] = []
  for (const source of await openDeadLetterSources(database, settings, options.queue)) {
    const held = await source.collect(LIST_HOLD_SECONDS)
    try {
      for (const item of held) {
        const entry = describe(item, now)
        if (tenantId === undefined || entry.tenantId === tenantId) listing.push(entry)
      }
    } finally {
      await source.release(held)
    }
  }
  return listing
}

/** The job facts of a dead letter, from its body when it parses, else its attributes. */
export function describe(item: HeldDeadLetter, now: number): DeadLetterListing {
  let job: Record<string, unknown> = {}
  try {
    const parsed = JSON.parse(item.body) as unknown
    if (parsed && typeof parsed === 'object') job = parsed as Record<string, unknown>
  } catch {
    // Not JSON: the attributes still say whose it is.
  }
  const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : null)
  return {
    queue: item.queue,
    id: item.id,
    messageId: text(job.messageId),
    tenantId: text(job.tenantId) ?? text(item.attributes.tenantId),
    campaignId: text(job.campaignId) ?? text(item.attributes.campaignId),
    channel: text(job.channel) ?? text(item.attributes.channel),
    receiveCount: item.receiveCount,
    reason: item.reason,
    ageSeconds: Math.max(0, Math.round((now - (item.deadLetteredAt ?? item.sentAt)) / 1000)),
  }
}
