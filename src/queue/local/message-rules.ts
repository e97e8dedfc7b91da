import type {EnqueueFailure, QueueMessage} from '../message-queue.js'
import {messageSizeBytes} from '../message-queue.js'

/** SQS's long-standing per-message limit (body plus attributes). */
export const LOCAL_MAX_MESSAGE_BYTES = 256 * 1024
/** SQS's per-message delay limit. */
export const MAX_DELAY_SECONDS = 900
/** SQS's limit on message attributes per message. */
export const MAX_MESSAGE_ATTRIBUTES = 10

// The characters SQS accepts in a body or a String attribute value:
// #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF (a lone surrogate is none of them).
const OUTSIDE_SQS_CHARACTERS = /[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/u
// Attribute names: letters, digits, '_', '-', '.'; no leading, trailing or double '.'; not reserved for AWS.
const ATTRIBUTE_NAME = /^(?!\.)(?!.*\.\.)(?!.*\.$)[A-Za-z0-9_.-]{1,256}$/
const RESERVED_ATTRIBUTE_PREFIX = /^(aws|amazon)\./i

/**
 * Why SQS would refuse this message, as the per-message failure of an
 * enqueue, or undefined when it is acceptable. The local queue applies the
 * same limits as SQS so that a message which works locally also works in
 * AWS: size, delay, body characters and attribute rules, with SQS's error
 * codes (engage's MESSAGE_TOO_LARGE for size, as the SQS queue reports it).
 */
export function sqsRefusal(message: QueueMessage, maxMessageBytes: number = LOCAL_MAX_MESSAGE_BYTES): EnqueueFailure | undefined {
  const refuse = (code: string, text: string): EnqueueFailure => ({id: message.id, code, message: text, senderFault: true, attempts: 0})
  if (typeof message.body !== 'string' || message.body.length === 0) {
    return refuse('InvalidParameterValue', 'The message body must contain at least one character.')
  }
  const size = messageSizeBytes(message)
  if (size > maxMessageBytes) {
    return refuse('MESSAGE_TOO_LARGE', `The message is ${size} bytes; a queue message holds at most ${maxMessageBytes}.`)
  }
  const delay = message.delaySeconds
  if (delay !== undefined && (!Number.isInteger(delay) || delay < 0 || delay > MAX_DELAY_SECONDS)) {
    return refuse('InvalidParameterValue', `delaySeconds must be a whole number from 0 to ${MAX_DELAY_SECONDS}, got ${delay}.`)
  }
  const invalidAt = firstInvalidCharacter(message.body)
  if (invalidAt !== undefined) {
    return refuse('InvalidMessageContents', `The message body contains a character SQS does not accept (${invalidAt}).`)
  }
  const attributes = Object.entries(message.attributes ?? {})
  if (attributes.length > MAX_MESSAGE_ATTRIBUTES) {
    return refuse('InvalidParameterValue', `A message may carry at most ${MAX_MESSAGE_ATTRIBUTES} attributes, this one has ${attributes.length}.`)
  }
  for (const [name, value] of attributes) {
    if (!ATTRIBUTE_NAME.test(name) || RESERVED_ATTRIBUTE_PREFIX.test(name)) {
      return refuse('InvalidParameterValue', `"${name.slice(0, 80)}" is not a valid message attribute name.`)
    }
    if (typeof value !== 'string' || value.length === 0) {
      return refuse('InvalidParameterValue', `Message attribute "${name}" must have a non-empty String value.`)
    }
    const at = firstInvalidCharacter(value)
    if (at !== undefined) return refuse('InvalidMessageContents', `Message attribute "${name}" contains a character SQS does not accept (${at}).`)
  }
  return undefined
}

/** "U+0000 at offset 4" for the first character SQS refuses, without echoing the text itself. */
function firstInvalidCharacter(text: string): string | undefined {
  const match = OUTSIDE_SQS_CHARACTERS.exec(text)
  if (!match) return undefined
  const codePoint = match[0].codePointAt(0)!
  return `U+${codePoint.toString(16).toUpperCase().padStart(4, '0')} at offset ${match.index}`
}
