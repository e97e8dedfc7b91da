import type {SeededChannel} from './seed-twilio.js'

/**
 * Plain-text lines for written or listed channel rows, for stdout. Only what
 * is safe to print reaches here: identifiers already redacted, no secret.
 */
export function renderChannelLine(row: SeededChannel): string {
  const parts = [
    row.channel.padEnd(8),
    row.action.padEnd(7),
    `id ${row.id}`,
    `sender ${row.sender ?? '-'}`,
  ]
  if (row.provider === 'twilio') {
    parts.push(`account ${row.accountSid ?? '-'}`, `service ${row.messagingServiceSid ?? '-'}`)
  } else {
    parts.push(`region ${row.region ?? '-'}`, `access key ${row.accessKeyId ?? 'IAM role'}`)
    if (row.configurationSet) parts.push(`configuration set ${row.configurationSet}`)
  }
  parts.push(
    `webhook ${row.webhookUrl ?? '-'}`,
    row.isEnabled ? 'enabled' : 'disabled',
    row.isVerified ? `verified ${row.verifiedAt}` : 'unverified',
  )
  if (row.credentialsKeyId) parts.push(`key ${row.credentialsKeyId}`)
  return parts.join('  ')
}
