import {randomBytes} from 'node:crypto'
import {md5OfBody, md5OfStringAttributes, type ReceivedMessage} from '../message-queue.js'

/** Table names as migration 0004 creates them. */
export const MESSAGES_TABLE = 'local_queue_messages'
export const DEAD_LETTERS_TABLE = 'local_queue_dead_letters'

/** The reason stored with a message moved after too many receives. */
export const MAX_RECEIVE_COUNT_REASON = 'maxReceiveCount'

/**
 * A row as a driver returns it. pg hands BIGINT (epoch ms) and COUNT(*) back
 * as strings, better-sqlite3 as numbers; {@link epochMs} and {@link count}
 * convert, so no global pg type parser is needed.
 */
export interface MessageRow {
  id: string
  queue_name?: string
  body: string
  attributes_json: string
  md5_of_body: string | null
  sent_at: number | string
  visible_at?: number | string
  receive_count: number | string
  first_received_at: number | string | null
  receipt_handle: string | null
}

export interface DeadLetterRow extends MessageRow {
  dead_lettered_at: number | string
  reason: string
}

/** A message in the dead-letter table, as `listDeadLetters` returns it. */
export interface DeadLetter {
  messageId: string
  body: string
  attributes: Record<string, string>
  md5OfBody: string
  /** Deliveries before it was moved. */
  receiveCount: number
  sentTimestamp: number
  firstReceiveTimestamp?: number
  /** Epoch milliseconds it was moved. */
  deadLetteredAt: number
  reason: string
}

export function epochMs(value: number | string | bigint): number {
  return typeof value === 'number' ? value : Number(value)
}

export const count = (value: number | string | bigint | null | undefined): number => (value == null ? 0 : Number(value))

let lastMs = 0
let sequence = 0

/**
 * A fresh message id: a UUIDv7 (RFC 9562, a 12-bit counter within one
 * millisecond), so ids grow in enqueue order. Receivers take messages
 * roughly in that order, and ordered primary keys keep their deletes on a
 * few adjacent index pages instead of random ones (several times faster on
 * SQLite). SQS message ids are UUIDs too.
 */
export function newMessageId(): string {
  let ms = Date.now()
  if (ms <= lastMs) {
    sequence++
    // 4,096 ids in one millisecond: borrow the next one, as RFC 9562 allows, to stay ordered.
    if (sequence > 0xfff) {
      lastMs++
      sequence = 0
    }
    ms = lastMs
  } else {
    lastMs = ms
    sequence = 0
  }
  const bytes = randomBytes(16)
  bytes.writeUIntBE(ms, 0, 6)
  bytes[6] = 0x70 | (sequence >> 8)
  bytes[7] = sequence & 0xff
  bytes[8] = 0x80 | (bytes[8]! & 0x3f)
  const hex = bytes.toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

/**
 * The message id a receipt handle belongs to. Handles are
 * `<message id>.<32 random hex digits>`, made by the database on every
 * receive, so delete and changeVisibility find the row by primary key and a
 * handle from an earlier receive no longer matches.
 */
export function messageIdOfHandle(receiptHandle: string): string | undefined {
  if (typeof receiptHandle !== 'string') return undefined
  const dot = receiptHandle.lastIndexOf('.')
  if (dot <= 0 || !/^[0-9a-f]{32}$/.test(receiptHandle.slice(dot + 1))) return undefined
  return receiptHandle.slice(0, dot)
}

function parseAttributes(json: string): Record<string, string> {
  const parsed = JSON.parse(json) as unknown
  return parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, string>) : {}
}

export function toReceivedMessage(row: MessageRow): ReceivedMessage {
  const attributes = parseAttributes(row.attributes_json)
  const md5OfMessageAttributes = md5OfStringAttributes(attributes)
  return {
    messageId: row.id,
    receiptHandle: row.receipt_handle!,
    body: row.body,
    attributes,
    receiveCount: count(row.receive_count),
    sentTimestamp: epochMs(row.sent_at),
    ...(row.first_received_at === null ? {} : {firstReceiveTimestamp: epochMs(row.first_received_at)}),
    md5OfBody: row.md5_of_body ?? md5OfBody(row.body),
    ...(md5OfMessageAttributes === undefined ? {} : {md5OfMessageAttributes}),
  }
}

export function toDeadLetter(row: DeadLetterRow): DeadLetter {
  return {
    messageId: row.id,
    body: row.body,
    attributes: parseAttributes(row.attributes_json),
    md5OfBody: row.md5_of_body ?? md5OfBody(row.body),
    receiveCount: count(row.receive_count),
    sentTimestamp: epochMs(row.sent_at),
    ...(row.first_received_at === null ? {} : {firstReceiveTimestamp: epochMs(row.first_received_at)}),
    deadLetteredAt: epochMs(row.dead_lettered_at),
    reason: row.reason,
  }
}
