import {createHash} from 'node:crypto'

/**
 * The one queue interface the send pipeline uses, with SQS semantics:
 * at-least-once delivery, a visibility timeout that hides a received message
 * until it is deleted or the timeout passes, a receive count per message, and
 * a dead-letter queue once that count passes a limit. Two implementations sit
 * behind it: SQS itself (src/queue/sqs/sqs-queue.ts) and a durable queue in
 * the engage database for local runs. Received messages convert to the record
 * shape of an SQS Lambda event ({@link toSqsEventRecord}), so the same
 * handler processes both.
 */
export interface MessageQueue {
  /** 'sqs' or 'local', for logs and `--json` output. */
  readonly kind: string
  /** Queue messages; the result says, per message, whether it was accepted. Never partially throws. */
  enqueue(messages: readonly QueueMessage[]): Promise<EnqueueResult>
  /** Up to `max` (1-10) visible messages, each hidden for the visibility timeout. */
  receive(options: ReceiveOptions): Promise<ReceivedMessage[]>
  /** Delete received messages by receipt handle; per-handle failures are reported, not thrown. */
  delete(receiptHandles: readonly string[]): Promise<DeleteResult>
  /** Hide a received message for `seconds` more from now (0 makes it visible again at once). */
  changeVisibility(receiptHandle: string, seconds: number): Promise<void>
  /** Approximate counts, as SQS reports them. */
  depth(): Promise<QueueDepth>
}

export interface QueueMessage {
  /** The caller's id for this message (e.g. the campaign message row id); results refer to it. Unique within one call. */
  id: string
  body: string
  /** String message attributes (tenant, campaign, channel), visible without parsing the body. */
  attributes?: Readonly<Record<string, string>>
  /** Hide the message for this long after sending (0-900). */
  delaySeconds?: number
}

export interface EnqueueFailure {
  id: string
  /** Provider error code (e.g. InvalidParameterValue) or an engage one (MESSAGE_TOO_LARGE). */
  code: string
  message: string
  /** True when retrying the same message cannot succeed (too large, invalid characters). */
  senderFault: boolean
  /** Send attempts made for this message, 0 when refused before sending. */
  attempts: number
}

export interface EnqueueResult {
  sent: Array<{id: string; messageId: string}>
  failed: EnqueueFailure[]
}

export interface ReceiveOptions {
  /** 1 to 10, as SQS allows. */
  max: number
  /** Long-poll up to this many seconds (0-20) when nothing is visible. */
  waitSeconds?: number
  /** Override the queue's visibility timeout for these messages. */
  visibilityTimeoutSeconds?: number
}

export interface ReceivedMessage {
  messageId: string
  receiptHandle: string
  body: string
  attributes: Record<string, string>
  /** 1 on first delivery; greater when a visibility timeout expired before a delete. */
  receiveCount: number
  /** Epoch milliseconds the message was sent. */
  sentTimestamp: number
  /** Epoch milliseconds of the first receive. */
  firstReceiveTimestamp?: number
  senderId?: string
  md5OfBody: string
  md5OfMessageAttributes?: string
}

export interface DeleteResult {
  deleted: string[]
  failed: Array<{receiptHandle: string; code: string; message: string}>
}

export interface QueueDepth {
  visible: number
  inFlight: number
  delayed?: number
  /** Messages in the dead-letter queue, when the queue has one and it can be read. */
  deadLetter?: number
}

/** The record shape of an SQS event delivered to a Lambda function (the `Records[]` of `SQSEvent`). */
export interface SqsEventRecord {
  messageId: string
  receiptHandle: string
  body: string
  attributes: {
    ApproximateReceiveCount: string
    SentTimestamp: string
    SenderId: string
    ApproximateFirstReceiveTimestamp: string
    [name: string]: string
  }
  messageAttributes: Record<string, SqsEventMessageAttribute>
  md5OfBody: string
  md5OfMessageAttributes?: string
  eventSource: 'aws:sqs'
  eventSourceARN: string
  awsRegion: string
}

export interface SqsEventMessageAttribute {
  stringValue?: string
  binaryValue?: string
  stringListValues: string[]
  binaryListValues: string[]
  dataType: string
}

/** Where a record came from, for the ARN and region fields of the event. */
export interface QueueSource {
  queueArn: string
  awsRegion: string
}

/**
 * Convert a received message to the record an SQS-triggered Lambda receives,
 * so local runs and tests drive the real handler with the real event shape.
 */
export function toSqsEventRecord(received: ReceivedMessage, source: QueueSource): SqsEventRecord {
  const messageAttributes: Record<string, SqsEventMessageAttribute> = {}
  for (const [name, value] of Object.entries(received.attributes)) {
    messageAttributes[name] = {stringValue: value, stringListValues: [], binaryListValues: [], dataType: 'String'}
  }
  const md5OfMessageAttributes = received.md5OfMessageAttributes ?? md5OfStringAttributes(received.attributes)
  return {
    messageId: received.messageId,
    receiptHandle: received.receiptHandle,
    body: received.body,
    attributes: {
      ApproximateReceiveCount: String(received.receiveCount),
      SentTimestamp: String(received.sentTimestamp),
      SenderId: received.senderId ?? 'engage',
      ApproximateFirstReceiveTimestamp: String(received.firstReceiveTimestamp ?? received.sentTimestamp),
    },
    messageAttributes,
    md5OfBody: received.md5OfBody,
    ...(md5OfMessageAttributes === undefined ? {} : {md5OfMessageAttributes}),
    eventSource: 'aws:sqs',
    eventSourceARN: source.queueArn,
    awsRegion: source.awsRegion,
  }
}

/** Hex MD5 of a body, as SQS reports `MD5OfBody`. */
export function md5OfBody(body: string): string {
  return createHash('md5').update(body, 'utf8').digest('hex')
}

/**
 * `MD5OfMessageAttributes` as SQS computes it for String attributes: names
 * sorted; for each, length-prefixed (4 bytes, big-endian) name and data type,
 * transport byte 1, then the length-prefixed value. Undefined when there are
 * no attributes, as SQS omits it.
 */
export function md5OfStringAttributes(attributes: Readonly<Record<string, string>>): string | undefined {
  const names = Object.keys(attributes).sort()
  if (names.length === 0) return undefined
  const hash = createHash('md5')
  const lengthPrefixed = (value: string) => {
    const bytes = Buffer.from(value, 'utf8')
    const length = Buffer.alloc(4)
    length.writeUInt32BE(bytes.length)
    hash.update(length)
    hash.update(bytes)
  }
  for (const name of names) {
    lengthPrefixed(name)
    lengthPrefixed('String')
    hash.update(Buffer.from([1]))
    lengthPrefixed(attributes[name]!)
  }
  return hash.digest('hex')
}

/**
 * Bytes SQS counts against its size limits for one message: the UTF-8 body
 * plus, for each attribute, its name, data type and value.
 */
export function messageSizeBytes(message: Pick<QueueMessage, 'body' | 'attributes'>): number {
  let size = Buffer.byteLength(message.body, 'utf8')
  for (const [name, value] of Object.entries(message.attributes ?? {})) {
    size += Buffer.byteLength(name, 'utf8') + Buffer.byteLength('String', 'utf8') + Buffer.byteLength(value, 'utf8')
  }
  return size
}

// Characters a JSON text may carry literally but some SQS endpoints refuse:
// SQS allows #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF, and
// fauxqs (checking UTF-16 code units) refuses every surrogate, i.e. all emoji.
// DEL and C1 controls are escaped too, for logs and consoles.
const UNSAFE_IN_QUEUE_BODY = /[\u007f-\u009f\ud800-\udfff\ufffe\uffff]/g

/**
 * Serialise a message payload as JSON that every SQS endpoint accepts: the
 * characters above are written as `\uXXXX` escapes (JSON.stringify already
 * escapes C0 controls and lone surrogates), so an emoji in a campaign body
 * survives the queue byte for byte once parsed. Other text stays literal, to
 * keep non-Latin bodies small.
 */
export function encodeQueueBody(payload: unknown): string {
  const json = JSON.stringify(payload)
  if (json === undefined) throw new TypeError('A queue body must be JSON-serialisable.')
  return json.replace(UNSAFE_IN_QUEUE_BODY, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`)
}
