import {BaseCommand} from '../../src/cli/base-command.js'
import {readCutoverStatus, type CutoverStatus} from '../../src/cutover/status.js'
import {isEngageError} from '../../src/errors/engage-error.js'
import {queueKindFor} from '../../src/queue/select-queue.js'

export default class CutoverStatusCommand extends BaseCommand<typeof CutoverStatusCommand> {
  static override summary = 'Show USE_AWS_QUEUE: the global value, tenant overrides, an environment override, and the last 10 changes.'

  async run(): Promise<CutoverStatus> {
    const settings = {get: (name: string) => this.settings.get(name)}
    const database = await this.database()
    const status = await readCutoverStatus(database, settings)
    if (status.tableMissing) this.logger.warn('The feature flag tables do not exist yet: run `engage migrate up` (until then every send uses the local queue).')
    try {
      queueKindFor(settings)
    } catch (error) {
      if (!isEngageError(error)) throw error
      this.logger.warn(`${error.message} Sends from this machine fail until it is fixed.`)
    }
    if (status.envOverride) this.logger.warn(`USE_AWS_QUEUE=${status.envOverride.slice(0, 20)} is set in this environment: on this machine it overrides the database flag.`)
    if (!this.jsonEnabled()) this.log(render(status))
    return status
  }
}

function render(status: CutoverStatus): string {
  const lines: string[] = []
  lines.push(
    status.global
      ? `global: ${status.global.value ? 'on (SQS + Lambda)' : 'off (local queue)'} — ${status.global.updatedBy}, ${status.global.updatedAt}${status.global.reason ? `: ${status.global.reason}` : ''}`
      : 'global: off (local queue) — never set',
  )
  if (status.tenants.length === 0) lines.push('tenant overrides: none')
  else {
    lines.push('tenant overrides:')
    for (const row of status.tenants) {
      lines.push(`  ${row.slug ?? `${row.tenantId} (no such tenant)`}: ${row.value ? 'on' : 'off'} — ${row.updatedBy}, ${row.updatedAt}${row.reason ? `: ${row.reason}` : ''}`)
    }
  }
  lines.push(`every tenant on AWS: ${status.allOnAws ? 'yes (the local worker hands over)' : 'no'}`)
  if (status.envOverride) lines.push(`environment override here: USE_AWS_QUEUE=${status.envOverride.slice(0, 20)}`)
  lines.push(status.audit.length === 0 ? 'audit: no changes yet' : 'audit (newest first):')
  for (const entry of status.audit) {
    lines.push(`  ${entry.changedAt}  ${entry.scope}  ${entry.oldValue ?? 'unset'} → ${entry.newValue ?? 'cleared'}  by ${entry.changedBy}${entry.reason ? `: ${entry.reason}` : ''}`)
  }
  return lines.join('\n')
}
