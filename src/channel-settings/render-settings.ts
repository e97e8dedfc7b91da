import type {SettingsView} from './settings-view.js'

/** One line per row for `settings list`; only fields of the safe SettingsView. */
export function renderSettingsRow(row: SettingsView): string {
  const identity =
    row.provider === 'twilio'
      ? `account ${row.accountSid ?? '-'}  service ${row.messagingServiceSid ?? '-'}`
      : `region ${row.region ?? '-'}  access key ${row.accessKeyId ?? (row.credentials.stored ? 'stored' : 'IAM role')}`
  return [
    row.tenant.slug.padEnd(16),
    row.channel.padEnd(8),
    row.provider.padEnd(6),
    (row.enabled ? 'enabled' : 'disabled').padEnd(8),
    (row.verified ? 'verified' : 'unverified').padEnd(10),
    `sender ${row.sender ?? '-'}`,
    identity,
    `key ${row.credentials.keyId ?? '-'}`,
  ].join('  ')
}

/** `settings show`: one field per line. */
export function renderSettingsDetail(row: SettingsView): string[] {
  const lines: Array<[string, string | null | undefined]> = [
    ['Tenant', `${row.tenant.slug} (${row.tenant.id})`],
    ['Channel', row.channel],
    ['Provider', row.provider],
    ['Enabled', row.enabled ? 'yes' : 'no'],
    ['Verified', row.verified ? `yes, at ${row.verifiedAt}` : 'no'],
    ['Verification error', row.verificationError],
    ['Sender', row.sender],
  ]
  if (row.provider === 'twilio') {
    lines.push(['Account SID', row.accountSid], ['Messaging service', row.messagingServiceSid])
  } else {
    lines.push(['Region', row.region], ['Configuration set', row.configurationSet], ['Access key id', row.accessKeyId ?? (row.credentials.stored ? null : 'none (IAM role)')])
  }
  lines.push(
    ['Webhook URL', row.webhookUrl],
    ['Credentials', row.credentials.stored ? `stored, key ${row.credentials.keyId}` : 'none'],
    ['Webhook secret', row.webhookSecret.stored ? `stored, key ${row.webhookSecret.keyId}` : 'none'],
    ['Updated', row.updatedAt],
    ['Row id', String(row.id)],
  )
  return lines.map(([label, value]) => `${`${label}:`.padEnd(20)} ${value ?? '-'}`)
}
