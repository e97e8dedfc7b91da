import type {Logger} from '../cli/logger.js'
import {silentLogger} from '../cli/logger.js'
import type {Database} from '../db/database.js'
import {LocalQueue} from '../queue/local/local-queue.js'
import type {MessageQueue, QueueDepth} from '../queue/message-queue.js'
import {openMessageQueue, type SettingsReader} from '../queue/select-queue.js'
import {rollBackUseAwsQueue, type FlagChange} from './flags.js'

export interface RollbackInput {
  reason: string | null
  actor: string
  /** Move the visible SQS messages back to the local queue. */
  moveInflight: boolean
  logger?: Logger
}

export interface RollbackReport {
  flag: FlagChange[]
  /** Set when SQS_QUEUE_URL is configured. */
  sqs?: {
    queue: string
    depthBefore: QueueDepth
    moved: number
    /** Messages the local queue refused (they stay on SQS, for the Lambda). */
    refused: number
    depthAfter?: QueueDepth
  }
  /** The USE_AWS_QUEUE environment variable of this process, when set: it still overrides the flag here. */
  envOverride?: string
}

// Hide moved messages long enough for the enqueue + delete; if this process dies, they reappear on SQS.
const MOVE_VISIBILITY_SECONDS = 60

/**
 * `engage cutover --rollback`: the flag goes off at once (global off, every
 * tenant override cleared, audited), so new sends take the local queue
 * again. Then, when SQS is configured, the queue's depth is reported; what
 * is on it is still processed once by the Lambda, since the sender is
 * idempotent. With `moveInflight`, visible SQS messages are moved back to
 * the local queue instead: receive, enqueue locally, then delete from SQS,
 * in that order, so a crash in between duplicates a job rather than losing
 * it (and a duplicate job never sends twice). Messages a Lambda holds right
 * now (in flight) are left to it.
 */
export async function rollbackCutover(database: Database, settings: SettingsReader, input: RollbackInput): Promise<RollbackReport> {
  const logger = input.logger ?? silentLogger
  const flag = await rollBackUseAwsQueue(database, {reason: input.reason, actor: input.actor})
  const report: RollbackReport = {flag}
  const envOverride = settings.get('USE_AWS_QUEUE')?.trim()
  if (envOverride) report.envOverride = envOverride
  if (!settings.get('SQS_QUEUE_URL')?.trim()) return report

  const sqs = await openMessageQueue(database, {get: (name) => (name === 'USE_AWS_QUEUE' ? 'true' : settings.get(name))})
  const depthBefore = await sqs.queue.depth()
  report.sqs = {queue: sqs.display, depthBefore, moved: 0, refused: 0}
  if (!input.moveInflight) return report

  const moved = await moveVisibleMessages(sqs.queue, new LocalQueue({database}), logger)
  report.sqs.moved = moved.moved
  report.sqs.refused = moved.refused
  report.sqs.depthAfter = await sqs.queue.depth()
  return report
}

/**
 * Moves every visible message of `from` to `to`: receive (hidden for a
 * minute), enqueue with the same body and attributes, delete what was
 * enqueued. Stops at the first empty receive. Messages `to` refuses are
 * made visible on `from` again at once.
 */
export async function moveVisibleMessages(from: MessageQueue, to: Pick<MessageQueue, 'enqueue'>, logger: Logger = silentLogger): Promise<{moved: number; refused: number}> {
  let moved = 0
  let refused = 0
  for (;;) {
    const batch = await from.receive({max: 10, waitSeconds: 0, visibilityTimeoutSeconds: MOVE_VISIBILITY_SECONDS})
    if (batch.length === 0) return {moved, refused}
    const result = await to.enqueue(batch.map((message) => ({id: message.messageId, body: message.body, attributes: message.attributes})))
    const accepted = new Set(result.sent.map((entry) => entry.id))
    const handles = batch.filter((message) => accepted.has(message.messageId)).map((message) => message.receiptHandle)
    if (handles.length > 0) {
      const deleted = await from.delete(handles)
      // A refused delete leaves a copy on SQS as well: processed twice in the worst case, sent once.
      for (const failure of deleted.failed) logger.warn(`SQS kept a moved message (${failure.code}); the Lambda may see it too, and will find it sent.`)
    }
    moved += handles.length
    for (const failure of result.failed) {
      refused++
      logger.warn(`the local queue refused message ${failure.id} (${failure.code}); it stays on SQS.`)
      const message = batch.find((candidate) => candidate.messageId === failure.id)
      if (message) await from.changeVisibility(message.receiptHandle, 0).catch(() => {})
    }
    // Every message of the batch refused: receiving again would return the same ones forever.
    if (handles.length === 0) return {moved, refused}
  }
}
