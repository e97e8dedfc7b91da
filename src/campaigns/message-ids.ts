import {createHash} from 'node:crypto'

/**
 * The `messages.id` of a campaign's message to one contact: a UUID (version
 * 8, RFC 9562) derived from SHA-256 of the campaign and contact ids. The
 * same pair always gives the same id, so creating a campaign's messages
 * twice, even from two processes at once, collides on the primary key
 * instead of duplicating a send.
 */
export function campaignMessageId(campaignId: string, contactId: string): string {
  const bytes = createHash('sha256').update(`engage:campaign-message:${campaignId}\u0000${contactId}`).digest().subarray(0, 16)
  bytes[6] = 0x80 | (bytes[6]! & 0x0f)
  bytes[8] = 0x80 | (bytes[8]! & 0x3f)
  const hex = bytes.toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}
