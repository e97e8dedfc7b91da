import type {Database} from '../db/database.js'
import {LocalQueue} from '../queue/local/local-queue.js'
import type {MessageQueue} from '../queue/message-queue.js'

export type DlqKind = 'local' | 'sqs'

/** One dead letter as `engage dlq` sees it, held by the process until redriven, discarded or released. */
export interface HeldDeadLetter {
  queue: DlqKind
  /** The queue's id of the message (SQS MessageId, or the local queue's id). */
  id: string
  body: string
  attributes: Record<string, string>
  receiveCount: number
  /** Why it was dead-lettered, when the queue records it (the local queue does, SQS does not). */
  reason: string | null
  /** Epoch ms the message was first queued. */
  sentAt: number
  /** Epoch ms it was moved to the dead-letter queue, when known. */
  deadLetteredAt: number | null
  /** SQS receipt handle of this process's receive. */
  handle?: string
}

/**
 * A dead-letter queue `engage dlq` works on. `collect` takes every message
 * (SQS: received and hidden for `holdSeconds`); `redrive` puts messages on
 * the main queue and then removes them from the dead-letter queue — never
 * the other way round, so a failure in between leaves a duplicate job (which
 * the idempotent sender acknowledges without sending), never a lost one;
 * `discard` removes; `release` hands back what this process held.
 */
export interface DeadLetterSource {
  kind: DlqKind
  display: string
  collect(holdSeconds: number): Promise<HeldDeadLetter[]>
  redrive(items: readonly HeldDeadLetter[]): Promise<string[]>
  discard(items: readonly HeldDeadLetter[]): Promise<string[]>
  release(items: readonly HeldDeadLetter[]): Promise<void>
}

const PAGE = 500

/** The local dead-letter table (local_queue_dead_letters) of the local queue. */
export function localDeadLetters(database: Database): DeadLetterSource {
  const queue = new LocalQueue({database})
  return {
    kind: 'local',
    display: `local dead-letter table of ${queue.queueName} in ${database.target.display}`,
    async collect() {
      const all: HeldDeadLetter[] = []
      for (let offset = 0; ; offset += PAGE) {
        const page = await queue.listDeadLetters({limit: PAGE, offset})
        for (const letter of page) {
          all.push({
            queue: 'local',
            id: letter.messageId,
            body: letter.body,
            attributes: letter.attributes,
            receiveCount: letter.receiveCount,
            reason: letter.reason,
            sentAt: letter.sentTimestamp,
            deadLetteredAt: letter.deadLetteredAt,
          })
        }
        if (page.length < PAGE) return all
      }
    },
    // One transaction moves the rows back into the queue: enqueue and delete cannot come apart here.
    redrive: async (items) => (await queue.redriveDeadLetters(items.map((item) => item.id))).redriven,
    discard: (items) => queue.deleteDeadLetters(items.map((item) => item.id)),
    release: async () => {},
  }
}

// Short polls that came back empty while SQS still reported visible messages, before giving up (SQS samples its hosts).
const EMPTY_RECEIVE_RETRIES = 3

/** An SQS dead-letter queue (SQS_DLQ_URL) and the main queue its messages go back to (SQS_QUEUE_URL). */
export function sqsDeadLetters(dlq: MessageQueue, main: Pick<MessageQueue, 'enqueue'>, display: string): DeadLetterSource {
  return {
    kind: 'sqs',
    display,
    async collect(holdSeconds) {
      const held = new Map<string, HeldDeadLetter>()
      let emptyReceives = 0
      for (;;) {
        const batch = await dlq.receive({max: 10, waitSeconds: 0, visibilityTimeoutSeconds: holdSeconds})
        if (batch.length === 0) {
          const depth = await dlq.depth()
          if (depth.visible === 0 || ++emptyReceives > EMPTY_RECEIVE_RETRIES) return [...held.values()]
          continue
        }
        emptyReceives = 0
        for (const message of batch) {
          held.set(message.messageId, {
            queue: 'sqs',
            id: message.messageId,
            body: message.body,
            attributes: message.attributes,
            receiveCount: message.receiveCount,
            reason: null,
            sentAt: message.sentTimestamp,
            deadLetteredAt: null,
            handle: message.receiptHandle,
          })
        }
      }
    },
    async redrive(items) {
      if (items.length === 0) return []
      const result = await main.enqueue(items.map((item) => ({id: item.id, body: item.body, attributes: item.attributes})))
      const queued = new Set(result.sent.map((entry) => entry.id))
      const done = items.filter((item) => queued.has(item.id))
      await deleteHeld(dlq, done)
      const refused = items.filter((item) => !queued.has(item.id))
      await releaseHeld(dlq, refused)
      return done.map((item) => item.id)
    },
    async discard(items) {
      await deleteHeld(dlq, items)
      return items.map((item) => item.id)
    },
    release: (items) => releaseHeld(dlq, items),
  }
}

async function deleteHeld(dlq: MessageQueue, items: readonly HeldDeadLetter[]): Promise<void> {
  for (let start = 0; start < items.length; start += 10) {
    const handles = items.slice(start, start + 10).flatMap((item) => (item.handle ? [item.handle] : []))
    if (handles.length > 0) await dlq.delete(handles)
  }
}

async function releaseHeld(dlq: MessageQueue, items: readonly HeldDeadLetter[]): Promise<void> {
  // Best effort: a message not released becomes visible again when its hold runs out.
  await Promise.all(items.flatMap((item) => (item.handle ? [dlq.changeVisibility(item.handle, 0).catch(() => {})] : [])))
}
