import {sql} from 'kysely'
import {inWriteTransaction, type Database} from '../../db/database.js'
import {DatabaseError, EngageError, ProviderError, UsageError} from '../../errors/engage-error.js'
import {
  md5OfBody,
  type DeleteResult,
  type EnqueueResult,
  type MessageQueue,
  type QueueDepth,
  type QueueMessage,
  type ReceiveOptions,
  type ReceivedMessage,
} from '../message-queue.js'
import {claimMessages} from './claim.js'
import {LOCAL_MAX_MESSAGE_BYTES, sqsRefusal} from './message-rules.js'
import {
  count,
  DEAD_LETTERS_TABLE,
  epochMs,
  MESSAGES_TABLE,
  messageIdOfHandle,
  newMessageId,
  toDeadLetter,
  toReceivedMessage,
  type DeadLetter,
  type DeadLetterRow,
} from './rows.js'

/** The local stand-in for `engageninja-messages-local` (messagesQueueDefinition('local').name). */
export const LOCAL_QUEUE_NAME = 'engageninja-messages-local'
export const DEFAULT_VISIBILITY_TIMEOUT_SECONDS = 30
export const DEFAULT_MAX_RECEIVE_COUNT = 5
/** SQS's limits, kept so that local behaviour does not drift from AWS. */
export const MAX_VISIBILITY_TIMEOUT_SECONDS = 12 * 3600
export const MAX_WAIT_SECONDS = 20
export const MAX_RECEIVE_BATCH = 10

// Rows per INSERT: 10 parameters each stays far below SQLite's 32,766 and PostgreSQL's 65,535.
const INSERT_CHUNK = 500
// Ids per IN (...) list in delete and redrive.
const ID_CHUNK = 500
// A wait with rows visible but none claimed (PostgreSQL: all locked by other receivers) backs off this long.
const CONTENDED_RETRY_MS = 5
const QUEUE_NAME = /^[A-Za-z0-9_-]{1,80}$/

export interface LocalQueueOptions {
  database: Database
  /** Several queues can share the tables; default {@link LOCAL_QUEUE_NAME}. */
  queueName?: string
  /** How long a received message stays hidden (default 30 s), as an SQS queue's VisibilityTimeout. */
  visibilityTimeoutSeconds?: number
  /** Deliveries before the next receive moves a message to the dead-letter table (default 5), as maxReceiveCount. */
  maxReceiveCount?: number
  /** Per-message size limit (default 256 KiB, as SQS). */
  maxMessageBytes?: number
  /** How often a long poll looks for newly visible messages (default 50 ms). */
  pollIntervalMs?: number
  /** Epoch milliseconds; injected so tests control visibility timeouts and delays. */
  now?: () => number
  /** Used by long polls; injected together with `now` for a fake clock. */
  sleep?: (ms: number) => Promise<void>
}

export interface RedriveResult {
  /** Ids moved back into the queue, visible at once with receive count 0. */
  redriven: string[]
  /** Requested ids that were not in this queue's dead-letter table. */
  notFound: string[]
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * {@link MessageQueue} in the engage database (tables of migration 0004),
 * for local runs: `engage worker` polls it and drives the same handler as the
 * SQS-triggered Lambda. It keeps SQS's semantics: at-least-once delivery, a
 * visibility timeout, a receive count, a fresh receipt handle per receive
 * (earlier ones stop working: delete and changeVisibility report
 * ReceiptHandleIsInvalid), per-message delays, and a dead-letter table the
 * message moves to, in the receiving transaction, on the receive after
 * maxReceiveCount deliveries. Messages are refused by the same rules SQS
 * applies (size, characters, attributes), so what works here works in AWS.
 *
 * Concurrent receivers (several workers, one per process) never get the same
 * message within its visibility window: PostgreSQL claims with FOR UPDATE
 * SKIP LOCKED, SQLite inside BEGIN IMMEDIATE. Times are the process clock's
 * epoch milliseconds, so every worker of one queue should share a clock
 * (one machine). On SQLite, use one Database per process: better-sqlite3
 * blocks the thread while it waits for the write lock, so two connections in
 * one process can starve each other.
 */
export class LocalQueue implements MessageQueue {
  readonly kind = 'local'
  readonly queueName: string
  readonly visibilityTimeoutSeconds: number
  readonly maxReceiveCount: number
  private readonly database: Database
  private readonly maxMessageBytes: number
  private readonly pollIntervalMs: number
  private readonly now: () => number
  private readonly sleep: (ms: number) => Promise<void>

  constructor(options: LocalQueueOptions) {
    this.database = options.database
    this.queueName = options.queueName ?? LOCAL_QUEUE_NAME
    if (!QUEUE_NAME.test(this.queueName)) {
      throw new UsageError(`"${this.queueName.slice(0, 100)}" is not a valid queue name.`, {
        code: 'QUEUE_NAME_INVALID',
        suggestions: ['Use 1 to 80 letters, digits, hyphens and underscores, as SQS does.'],
      })
    }
    this.visibilityTimeoutSeconds = checkVisibility(options.visibilityTimeoutSeconds ?? DEFAULT_VISIBILITY_TIMEOUT_SECONDS, 'visibilityTimeoutSeconds')
    this.maxReceiveCount = options.maxReceiveCount ?? DEFAULT_MAX_RECEIVE_COUNT
    if (!Number.isInteger(this.maxReceiveCount) || this.maxReceiveCount < 1 || this.maxReceiveCount > 1000) {
      throw new UsageError(`maxReceiveCount must be a whole number from 1 to 1000, got ${this.maxReceiveCount}.`, {code: 'QUEUE_MAX_RECEIVE_COUNT_INVALID'})
    }
    this.maxMessageBytes = options.maxMessageBytes ?? LOCAL_MAX_MESSAGE_BYTES
    this.pollIntervalMs = Math.max(1, options.pollIntervalMs ?? 50)
    this.now = options.now ?? Date.now
    this.sleep = options.sleep ?? defaultSleep
  }

  /**
   * Queues every acceptable message in one transaction (multi-row inserts);
   * messages SQS would refuse are reported per message and the others are
   * still queued. Duplicate ids are refused before anything is written, and
   * a database failure rolls the whole call back and throws.
   */
  async enqueue(messages: readonly QueueMessage[]): Promise<EnqueueResult> {
    const ids = new Set<string>()
    for (const message of messages) {
      if (ids.has(message.id)) {
        throw new UsageError(`Two messages in one enqueue call share the id "${message.id}".`, {code: 'QUEUE_DUPLICATE_ID'})
      }
      ids.add(message.id)
    }
    const result: EnqueueResult = {sent: [], failed: []}
    const rows: Record<string, string | number>[] = []
    const now = this.now()
    for (const message of messages) {
      const refusal = sqsRefusal(message, this.maxMessageBytes)
      if (refusal) {
        result.failed.push(refusal)
        continue
      }
      const messageId = newMessageId()
      rows.push({
        id: messageId,
        queue_name: this.queueName,
        body: message.body,
        attributes_json: JSON.stringify(message.attributes ?? {}),
        md5_of_body: md5OfBody(message.body),
        sent_at: now,
        visible_at: now + (message.delaySeconds ?? 0) * 1000,
        receive_count: 0,
      })
      result.sent.push({id: message.id, messageId})
    }
    if (rows.length === 0) return result
    await this.guard('enqueue', () =>
      inWriteTransaction(this.database, async (trx) => {
        for (let start = 0; start < rows.length; start += INSERT_CHUNK) {
          await trx.insertInto(MESSAGES_TABLE).values(rows.slice(start, start + INSERT_CHUNK)).execute()
        }
      }),
    )
    return result
  }

  /**
   * Claims up to `max` visible messages. With `waitSeconds` it long-polls:
   * it sleeps until the next message becomes visible or `pollIntervalMs`
   * passes, whichever is first, and returns what it has once the wait ends.
   */
  async receive(options: ReceiveOptions): Promise<ReceivedMessage[]> {
    const max = options.max
    if (!Number.isInteger(max) || max < 1 || max > MAX_RECEIVE_BATCH) {
      throw new UsageError(`receive max must be an integer from 1 to ${MAX_RECEIVE_BATCH}, got ${max}.`, {code: 'QUEUE_RECEIVE_MAX_INVALID'})
    }
    const waitSeconds = options.waitSeconds ?? 0
    if (!Number.isFinite(waitSeconds) || waitSeconds < 0 || waitSeconds > MAX_WAIT_SECONDS) {
      throw new UsageError(`waitSeconds must be from 0 to ${MAX_WAIT_SECONDS}, got ${waitSeconds}.`, {code: 'QUEUE_WAIT_INVALID'})
    }
    const visibility = checkVisibility(options.visibilityTimeoutSeconds ?? this.visibilityTimeoutSeconds, 'visibilityTimeoutSeconds')
    const deadline = this.now() + waitSeconds * 1000

    return this.guard('receive', async () => {
      for (;;) {
        const claimed = await this.claimBatch(max, visibility)
        if (claimed.length > 0) return claimed
        const now = this.now()
        if (now >= deadline) return []
        const next = await this.nextVisibleAt()
        const wake = Math.min(deadline, next ?? Number.POSITIVE_INFINITY, now + this.pollIntervalMs)
        await this.sleep(Math.max(wake - now, CONTENDED_RETRY_MS))
      }
    })
  }

  /** One claim, repeated while candidates were dead-lettered instead of delivered, so a batch is not cut short by them. */
  private async claimBatch(max: number, visibilitySeconds: number): Promise<ReceivedMessage[]> {
    const received: ReceivedMessage[] = []
    for (;;) {
      const now = this.now()
      const {rows, deadLettered} = await claimMessages(this.database, {
        queueName: this.queueName,
        now,
        hiddenUntil: now + visibilitySeconds * 1000,
        limit: max - received.length,
        maxReceiveCount: this.maxReceiveCount,
      })
      for (const row of rows) received.push(toReceivedMessage(row))
      if (deadLettered === 0 || received.length >= max) return received
    }
  }

  /** The earliest visible_at of the queue, or undefined when it is empty. Reads only: an idle long poll takes no write lock. */
  private async nextVisibleAt(): Promise<number | undefined> {
    const row = await this.database.db
      .selectFrom(MESSAGES_TABLE)
      .select((eb) => eb.fn.min('visible_at').as('next'))
      .where('queue_name', '=', this.queueName)
      .executeTakeFirst()
    return row?.next == null ? undefined : epochMs(row.next)
  }

  /**
   * Deletes messages by their current receipt handle. A handle from an
   * earlier receive, of a deleted message, or not made by this queue is
   * reported as ReceiptHandleIsInvalid; nothing is thrown for those.
   */
  async delete(receiptHandles: readonly string[]): Promise<DeleteResult> {
    const result: DeleteResult = {deleted: [], failed: []}
    const candidates = new Map<string, string>()
    for (const handle of receiptHandles) {
      const id = messageIdOfHandle(handle)
      if (id !== undefined) candidates.set(handle, id)
    }
    const removed = new Set<string>()
    await this.guard('delete', async () => {
      // A handle names its message, so matching the handle alone is exact; the id list lets the primary key find the rows.
      for (const part of chunk([...candidates], ID_CHUNK)) {
        const rows = await this.database.db
          .deleteFrom(MESSAGES_TABLE)
          .where(this.queueNameColumn(), '=', this.queueName)
          .where('id', 'in', part.map(([, id]) => id))
          .where('receipt_handle', 'in', part.map(([handle]) => handle))
          .returning('receipt_handle')
          .execute()
        for (const row of rows) removed.add(row.receipt_handle as string)
      }
    })
    for (const handle of receiptHandles) {
      if (removed.has(handle)) result.deleted.push(handle)
      else result.failed.push({receiptHandle: handle, code: 'ReceiptHandleIsInvalid', message: invalidHandleMessage(handle)})
    }
    return result
  }

  /**
   * Hides a received message for `seconds` more from now (0: visible at
   * once). Throws a ProviderError with details.awsCode ReceiptHandleIsInvalid
   * for a stale or unknown handle and MessageNotInflight once the message's
   * visibility already ran out, as SQS does.
   */
  async changeVisibility(receiptHandle: string, seconds: number): Promise<void> {
    checkVisibility(seconds, 'seconds')
    const id = messageIdOfHandle(receiptHandle)
    const now = this.now()
    const changed = id === undefined ? 0 : await this.guard('changeVisibility', async () => {
      const update = await this.database.db
        .updateTable(MESSAGES_TABLE)
        .set({visible_at: now + seconds * 1000})
        .where('id', '=', id)
        .where(this.queueNameColumn(), '=', this.queueName)
        .where('receipt_handle', '=', receiptHandle)
        .where('visible_at', '>', now)
        .executeTakeFirst()
      return Number(update.numUpdatedRows)
    })
    if (changed === 1) return
    const current = id === undefined ? undefined : await this.guard('changeVisibility', () =>
      this.database.db
        .selectFrom(MESSAGES_TABLE)
        .select('id')
        .where('id', '=', id)
        .where(this.queueNameColumn(), '=', this.queueName)
        .where('receipt_handle', '=', receiptHandle)
        .executeTakeFirst(),
    )
    const awsCode = current ? 'MessageNotInflight' : 'ReceiptHandleIsInvalid'
    throw new ProviderError(
      current ? 'The message is no longer in flight: its visibility timeout already ran out.' : invalidHandleMessage(receiptHandle),
      {
        code: current ? 'QUEUE_MESSAGE_NOT_IN_FLIGHT' : 'QUEUE_RECEIPT_HANDLE_INVALID',
        details: {operation: 'ChangeMessageVisibility', awsCode, retryable: false, queue: this.queueName},
        suggestions: ['Receive the message again and use the receipt handle of that receive.'],
      },
    )
  }

  /** Counts as SQS reports them; `delayed` is never-received messages not yet visible, `inFlight` received ones. */
  async depth(): Promise<QueueDepth> {
    const now = this.now()
    return this.guard('depth', async () => {
      const {rows} = await sql<{visible: unknown; in_flight: unknown; delayed: unknown; dead_letter: unknown}>`
        SELECT
          SUM(CASE WHEN visible_at <= ${now} THEN 1 ELSE 0 END) AS visible,
          SUM(CASE WHEN visible_at > ${now} AND receive_count > 0 THEN 1 ELSE 0 END) AS in_flight,
          SUM(CASE WHEN visible_at > ${now} AND receive_count = 0 THEN 1 ELSE 0 END) AS delayed,
          (SELECT COUNT(*) FROM local_queue_dead_letters WHERE queue_name = ${this.queueName}) AS dead_letter
        FROM local_queue_messages WHERE queue_name = ${this.queueName}`.execute(this.database.db)
      const row = rows[0]
      const n = (value: unknown) => count(value as number | string | null)
      return {visible: n(row?.visible), inFlight: n(row?.in_flight), delayed: n(row?.delayed), deadLetter: n(row?.dead_letter)}
    })
  }

  /** Dead letters of this queue, oldest first. */
  async listDeadLetters(options: {limit?: number; offset?: number} = {}): Promise<DeadLetter[]> {
    const limit = options.limit ?? 100
    const offset = options.offset ?? 0
    if (!Number.isInteger(limit) || limit < 1 || !Number.isInteger(offset) || offset < 0) {
      throw new UsageError(`limit must be a whole number of at least 1 and offset of at least 0 (got ${limit}, ${offset}).`, {code: 'QUEUE_LIST_RANGE_INVALID'})
    }
    const rows = await this.guard('listDeadLetters', () =>
      this.database.db
        .selectFrom(DEAD_LETTERS_TABLE)
        .selectAll()
        .where('queue_name', '=', this.queueName)
        .orderBy('dead_lettered_at')
        .orderBy('id')
        .limit(limit)
        .offset(offset)
        .execute(),
    )
    return (rows as DeadLetterRow[]).map(toDeadLetter)
  }

  /**
   * Moves dead letters back into the queue in one transaction, visible at
   * once with receive count 0 and their original message id and sent time.
   * Without `ids`, every dead letter of this queue is moved.
   */
  async redriveDeadLetters(ids?: readonly string[]): Promise<RedriveResult> {
    const now = this.now()
    const redriven = await this.guard('redriveDeadLetters', () =>
      inWriteTransaction(this.database, async (trx) => {
        const moved: string[] = []
        const chunks = ids === undefined ? [undefined] : chunk([...new Set(ids)], ID_CHUNK)
        for (const part of chunks) {
          if (part !== undefined && part.length === 0) continue
          const only = part === undefined ? sql`` : sql`AND id IN (${sql.join(part)})`
          const {rows} = await sql<{id: string}>`
            INSERT INTO local_queue_messages (id, queue_name, body, attributes_json, md5_of_body, sent_at, visible_at,
              receive_count, first_received_at, receipt_handle)
            SELECT id, queue_name, body, attributes_json, md5_of_body, sent_at, ${cast(now, this.database)}, 0, NULL, NULL
            FROM local_queue_dead_letters WHERE ${part === undefined ? sql.ref('queue_name') : this.queueNameColumn()} = ${this.queueName} ${only}
            RETURNING id`.execute(trx)
          const back = rows.map((row) => row.id)
          for (const idsPart of chunk(back, ID_CHUNK)) {
            await trx.deleteFrom(DEAD_LETTERS_TABLE).where(this.queueNameColumn(), '=', this.queueName).where('id', 'in', idsPart).execute()
          }
          moved.push(...back)
        }
        return moved
      }),
    )
    const done = new Set(redriven)
    return {redriven, notFound: ids === undefined ? [] : [...new Set(ids)].filter((id) => !done.has(id))}
  }

  /** Deletes dead letters of this queue by message id (e.g. jobs whose message was already sent); returns the ids removed. */
  async deleteDeadLetters(ids: readonly string[]): Promise<string[]> {
    const removed: string[] = []
    await this.guard('deleteDeadLetters', async () => {
      for (const part of chunk([...new Set(ids)], ID_CHUNK)) {
        const rows = await this.database.db.deleteFrom(DEAD_LETTERS_TABLE).where(this.queueNameColumn(), '=', this.queueName).where('id', 'in', part).returning('id').execute()
        removed.push(...rows.map((row) => row.id as string))
      }
    })
    return removed
  }

  /**
   * The queue_name column for a WHERE that also looks rows up by id. SQLite
   * would otherwise walk the (queue_name, …) index over the whole queue
   * instead of the primary key; a unary `+` is its documented way to keep a
   * term from choosing the index.
   */
  private queueNameColumn() {
    return this.database.dialect === 'sqlite' ? sql<string>`+queue_name` : sql<string>`queue_name`
  }

  /** Database failures as DatabaseErrors naming the operation, with what to do when the tables are missing. */
  private async guard<T>(operation: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work()
    } catch (error) {
      if (error instanceof EngageError) throw error
      const message = (error as Error).message ?? String(error)
      const code = (error as {code?: string}).code
      if (/no such table: local_queue_|relation "local_queue_\w+" does not exist/.test(message)) {
        throw new DatabaseError(`The local queue tables do not exist in ${this.database.target.display}.`, {
          code: 'LOCAL_QUEUE_TABLES_MISSING',
          cause: error,
          suggestions: ['Run `engage migrate up` against this database first.'],
        })
      }
      if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
        throw new DatabaseError(`The local queue's database is locked by another writer (${operation}).`, {
          code: 'DATABASE_BUSY',
          cause: error,
          suggestions: ['Retry; if it persists, look for a long-running process holding the SQLite write lock.'],
        })
      }
      throw new DatabaseError(`Local queue ${operation} failed: ${message}`, {code: 'LOCAL_QUEUE_FAILED', cause: error, details: {operation}})
    }
  }
}

function checkVisibility(seconds: number, name: string): number {
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_VISIBILITY_TIMEOUT_SECONDS) {
    throw new UsageError(`${name} must be a whole number of seconds from 0 to ${MAX_VISIBILITY_TIMEOUT_SECONDS}, got ${seconds}.`, {
      code: 'QUEUE_VISIBILITY_INVALID',
    })
  }
  return seconds
}

function invalidHandleMessage(handle: string): string {
  const shown = typeof handle === 'string' && handle.length > 24 ? `${handle.slice(0, 12)}…${handle.slice(-8)}` : String(handle)
  return `The receipt handle "${shown}" is not the current one of a message in this queue (stale, already deleted, or not from this queue).`
}

// PostgreSQL types a bare parameter in an INSERT … SELECT list as text.
function cast(value: number, database: Database) {
  return database.dialect === 'postgres' ? sql`${value}::bigint` : sql`${value}`
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const parts: T[][] = []
  for (let start = 0; start < items.length; start += size) parts.push(items.slice(start, start + size))
  return parts
}
