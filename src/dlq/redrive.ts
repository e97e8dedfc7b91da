import type {Logger} from '../cli/logger.js'
import {silentLogger} from '../cli/logger.js'
import type {Database} from '../db/database.js'
import {UsageError} from '../errors/engage-error.js'
import type {SettingsReader} from '../queue/select-queue.js'
import {requireTenant} from '../tenants/tenant-repository.js'
import {describe} from './list.js'
import {openDeadLetterSources} from './open-sources.js'
import {judgeJobs, type JobVerdict} from './sent-check.js'
import type {DeadLetterSource, DlqKind, HeldDeadLetter} from './sources.js'

export interface DlqRedriveOptions {
  queue?: DlqKind
  /** Tenant slug or id: only its dead letters. */
  tenant?: string
  /** Decide and report; change nothing. */
  dryRun?: boolean
  /** Re-enqueues per second at most. */
  rate?: number
  logger?: Logger
  sleep?: (ms: number) => Promise<void>
  now?: () => number
}

export type RedriveAction = 'redrive' | 'already-sent' | 'left'

export interface RedriveItem {
  queue: DlqKind
  id: string
  messageId: string | null
  tenantId: string | null
  action: RedriveAction
  /** Why it is left in the dead-letter queue, or the message's status when already sent. */
  detail: string | null
}

export interface QueueRedriveReport {
  queue: DlqKind
  display: string
  /** Dead letters considered (of the tenant, with --tenant). */
  considered: number
  /** Put back on the main queue (or, with --dry-run, would be). */
  redriven: number
  /** Removed without re-enqueueing: their message was already sent (or would be, with --dry-run). */
  alreadySent: number
  /** Kept in the dead-letter queue: the body is not a send job, or its message row is gone. */
  left: number
  /** Failed to move this run (they stay in the dead-letter queue; re-run). */
  failed: number
}

export interface DlqRedriveReport {
  dryRun: boolean
  queues: QueueRedriveReport[]
  items: RedriveItem[]
}

const DEFAULT_RATE = 100
// SQS: dead letters stay hidden this long beyond the paced redrive's expected duration.
const HOLD_MARGIN_SECONDS = 120
const MAX_HOLD_SECONDS = 12 * 3600
const BATCH = 10

/**
 * `engage dlq redrive`: for each dead letter, the database decides
 * ({@link judgeJobs}): a job whose message was already sent is removed from
 * the dead-letter queue and counted 'already sent', never re-enqueued; a job
 * for an unsent message goes back to the main queue first and is removed
 * from the dead-letter queue second; a body that is not a send job, or
 * whose message row is gone, is left where it is for an operator to look
 * at. `rate` paces re-enqueues (messages per second). With `dryRun` nothing
 * changes (SQS messages are received to be read, then released at once).
 */
export async function redriveDeadLetters(database: Database, settings: SettingsReader, options: DlqRedriveOptions = {}): Promise<DlqRedriveReport> {
  const rate = options.rate ?? DEFAULT_RATE
  if (!Number.isFinite(rate) || rate <= 0) {
    throw new UsageError(`--rate must be a positive number of messages per second, got ${rate}.`, {code: 'DLQ_RATE_INVALID', suggestions: ['Pass e.g. --rate 50.']})
  }
  const logger = options.logger ?? silentLogger
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)))
  const now = options.now ?? Date.now
  const tenantId = options.tenant === undefined ? undefined : (await requireTenant(database.db, options.tenant)).id
  const report: DlqRedriveReport = {dryRun: options.dryRun ?? false, queues: [], items: []}

  for (const source of await openDeadLetterSources(database, settings, options.queue)) {
    const held = await source.collect(holdSecondsFor(rate))
    const queueReport: QueueRedriveReport = {queue: source.kind, display: source.display, considered: 0, redriven: 0, alreadySent: 0, left: 0, failed: 0}
    report.queues.push(queueReport)
    const mine = tenantId === undefined ? held : held.filter((item) => describe(item, 0).tenantId === tenantId)
    const others = tenantId === undefined ? [] : held.filter((item) => describe(item, 0).tenantId !== tenantId)
    await source.release(others)
    const verdicts = await judgeJobs(database, mine.map((item) => item.body))
    queueReport.considered = mine.length
    const plan = mine.map((item, index) => ({item, verdict: verdicts[index]!}))
    for (const {item, verdict} of plan) report.items.push(itemOf(item, verdict))

    const toRedrive = plan.filter((entry) => entry.verdict.kind === 'redrive').map((entry) => entry.item)
    const sent = plan.filter((entry) => entry.verdict.kind === 'already-sent').map((entry) => entry.item)
    const left = plan.filter((entry) => entry.verdict.kind === 'message-missing' || entry.verdict.kind === 'unreadable').map((entry) => entry.item)
    queueReport.left = left.length
    if (report.dryRun) {
      queueReport.redriven = toRedrive.length
      queueReport.alreadySent = sent.length
      await source.release(mine)
      continue
    }
    await source.release(left)
    queueReport.alreadySent = (await source.discard(sent)).length
    await redrivePaced(source, toRedrive, rate, queueReport, {logger, sleep, now})
  }
  return report
}

async function redrivePaced(
  source: DeadLetterSource,
  items: HeldDeadLetter[],
  rate: number,
  report: QueueRedriveReport,
  clock: {logger: Logger; sleep: (ms: number) => Promise<void>; now: () => number},
): Promise<void> {
  const started = clock.now()
  const batch = Math.max(1, Math.min(BATCH, Math.floor(rate)))
  for (let start = 0; start < items.length; start += batch) {
    const part = items.slice(start, start + batch)
    // Pace: this batch may begin once the messages before it fit under the rate.
    const due = started + (start / rate) * 1000
    const wait = due - clock.now()
    if (wait > 0) await clock.sleep(wait)
    try {
      const done = await source.redrive(part)
      report.redriven += done.length
      report.failed += part.length - done.length
    } catch (error) {
      report.failed += part.length
      clock.logger.warn(`redrive of ${part.length} message(s) from the ${source.kind} dead-letter queue failed: ${(error as Error).message}; they stay there, re-run to retry.`)
      await source.release(part)
    }
  }
}

function holdSecondsFor(rate: number): number {
  // The SQS dead letters are held while they are judged and paced back; a generous estimate of 10,000 per run at this rate.
  return Math.min(MAX_HOLD_SECONDS, Math.ceil(10_000 / rate) + HOLD_MARGIN_SECONDS)
}

function itemOf(item: HeldDeadLetter, verdict: JobVerdict): RedriveItem {
  const described = describe(item, 0)
  const base = {queue: item.queue, id: item.id, messageId: described.messageId, tenantId: described.tenantId}
  switch (verdict.kind) {
    case 'redrive':
      return {...base, action: 'redrive', detail: null}
    case 'already-sent':
      return {...base, action: 'already-sent', detail: verdict.status}
    case 'message-missing':
      return {...base, action: 'left', detail: 'its messages row does not exist (for this tenant)'}
    case 'unreadable':
      return {...base, action: 'left', detail: `not a send job: ${verdict.error}`}
  }
}
