import {HOPS, type HopName, type VerifiedMessage, type VerifyReport} from './types.js'

const COLUMNS: Array<{title: string; hop?: HopName}> = [
  {title: 'TENANT'},
  {title: 'CHANNEL'},
  {title: 'TO'},
  ...HOPS.map((hop) => ({title: hop === 'sse' ? 'SSE' : hop.toUpperCase(), hop})),
  {title: 'RESULT'},
]

function cell(message: VerifiedMessage, hop: HopName): string {
  const time = message.hops[hop]
  if (time) return `${time.ms} ms`
  if (!message.required.includes(hop)) return '–'
  return message.failedHop === hop ? '✗' : '…'
}

/**
 * The latency table of a verify run, one line per smoke message: for each
 * hop the milliseconds since its campaign's enqueue began ('–' not required
 * for this channel, '✗' the hop that failed), then a summary line naming the
 * failed hop and the reason for each failure. Plain text for stdout.
 */
export function renderVerifyReport(report: VerifyReport): string[] {
  const rows = report.messages.map((message) => [
    message.tenant,
    message.channel,
    message.to,
    ...HOPS.map((hop) => cell(message, hop)),
    message.ok ? '✓ ok' : `✗ ${message.failedHop}`,
  ])
  const table = [COLUMNS.map((column) => column.title), ...rows]
  const widths = COLUMNS.map((_, index) => Math.max(...table.map((row) => [...(row[index] ?? '')].length)))
  const lines = table.map((row) => row.map((value, index) => value + ' '.repeat(widths[index]! - [...value].length)).join('  ').trimEnd())
  const path = report.path === 'sqs' ? `SQS (${report.queue})` : `the local queue (${report.queue})`
  const failed = report.messages.filter((message) => !message.ok)
  lines.push('')
  if (report.eventsUrl === null) lines.push('SSE not followed: ENGAGE_SERVE_URL is not set.')
  for (const skipped of report.skipped) lines.push(`Skipped ${skipped.tenant} ${skipped.channel}: ${skipped.reason}`)
  if (failed.length === 0) {
    lines.push(`✓ All ${report.messages.length} smoke message(s) went through ${path}${report.requireRead ? ', read where the channel reports it' : ''}.`)
  } else {
    lines.push(`✗ ${failed.length} of ${report.messages.length} smoke message(s) failed through ${path}:`)
    for (const message of failed) lines.push(`  ${message.tenant} ${message.channel} ${message.to}: hop "${message.failedHop}" failed: ${message.failure ?? 'unknown'} (message ${message.messageId})`)
  }
  return lines
}
