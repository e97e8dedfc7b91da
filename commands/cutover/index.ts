import {Flags} from '@oclif/core'
import {BaseCommand} from '../../src/cli/base-command.js'
import {confirmAction} from '../../src/cli/confirm.js'
import {askForMissing, promptText} from '../../src/cli/prompts.js'
import {changeCutoverFlag, type ChangeFlagReport} from '../../src/cutover/change-flag.js'
import {operatorName, readUseAwsQueue} from '../../src/cutover/flags.js'
import {assertVerifyPassed, renderVerifyReport, runCutoverVerify, type VerifyReport} from '../../src/cutover/verify/index.js'
import {Keyring} from '../../src/crypto/encryption-key.js'
import {rollbackCutover, type RollbackReport} from '../../src/cutover/rollback.js'
import {UsageError} from '../../src/errors/engage-error.js'
import {requireTenant} from '../../src/tenants/tenant-repository.js'

const MODES = ['enable', 'disable', 'rollback', 'verify'] as const

export default class Cutover extends BaseCommand<typeof Cutover> {
  static override summary = 'Switch new sends between the local queue and SQS + Lambda (USE_AWS_QUEUE), verify, or roll back.'
  static override description =
    'The USE_AWS_QUEUE flag lives in the database (feature_flags), read at run time by campaign send, the worker and the Lambdas; every change is audited with who (ENGAGE_OPERATOR or user@host), when and why. --enable/--disable set it globally or for one --tenant (confirm with --yes when there is no terminal; --reason is required then too). --rollback turns it off at once everywhere (global off, tenant overrides cleared), reports the SQS queue depth and, with --move-inflight, moves visible SQS messages back to the local queue. The USE_AWS_QUEUE environment variable, when set, overrides the flag on this machine only. See `engage cutover status`.'

  static override flags = {
    enable: Flags.boolean({summary: 'Send new messages through SQS + Lambda.', exclusive: ['disable', 'rollback', 'verify']}),
    disable: Flags.boolean({summary: 'Send new messages through the local queue.', exclusive: ['enable', 'rollback', 'verify']}),
    rollback: Flags.boolean({summary: 'Flag off at once for every tenant; report (or move back) what is on SQS.', exclusive: ['enable', 'disable', 'verify']}),
    verify: Flags.boolean({summary: 'Send a smoke campaign through the path the flag selects and time each hop.', exclusive: ['enable', 'disable', 'rollback']}),
    tenant: Flags.string({summary: 'Tenant slug or id: change only this tenant (with --enable or --disable).'}),
    reason: Flags.string({summary: 'Why: kept in the audit trail.'}),
    yes: Flags.boolean({summary: 'Do not ask for confirmation.', default: false}),
    'move-inflight': Flags.boolean({summary: 'With --rollback: move visible SQS messages back to the local queue.', default: false}),
    to: Flags.string({summary: 'With --verify: a test recipient (E.164 or email); repeat for more.', multiple: true}),
    channel: Flags.string({summary: 'With --verify: only this channel (sms, whatsapp, email); repeat for more.', multiple: true}),
    timeout: Flags.integer({summary: 'With --verify: seconds to wait for every hop.', default: 120, min: 1}),
    read: Flags.boolean({summary: 'With --verify: also wait for WhatsApp messages to be read.', default: false}),
    'events-url': Flags.string({summary: 'With --verify: the SSE stream to follow (default ENGAGE_SERVE_URL/events).'}),
  }

  async run(): Promise<ChangeFlagReport | RollbackReport | VerifyReport | Record<string, unknown>> {
    const mode = MODES.find((name) => this.flags[name])
    if (!mode) {
      throw new UsageError('Say what to do: --enable, --disable, --rollback or --verify.', {
        code: 'CUTOVER_MODE_MISSING',
        suggestions: ['`engage cutover status` shows the current state; `engage cutover --enable --reason "…"` switches to SQS.'],
      })
    }
    if (this.flags['move-inflight'] && mode !== 'rollback') {
      throw new UsageError('--move-inflight only goes with --rollback.', {code: 'CUTOVER_FLAG_MISUSED', suggestions: ['Use `engage cutover --rollback --move-inflight`.']})
    }
    if (this.flags.tenant !== undefined && mode === 'rollback') {
      throw new UsageError(`--tenant goes with --enable or --disable, not --${mode}.`, {
        code: 'CUTOVER_FLAG_MISUSED',
        suggestions: ['A rollback is for every tenant; for one tenant use `engage cutover --disable --tenant SLUG`.'],
      })
    }
    const settings = {get: (name: string) => this.settings.get(name)}

    if (mode === 'verify') return this.verify(settings)

    if (mode === 'rollback') {
      // No confirmation: a rollback returns to the path that worked before, and an operator needs it at once.
      const database = await this.database()
      const report = await rollbackCutover(database, settings, {
        reason: this.flags.reason?.trim() || null,
        actor: operatorName(settings),
        moveInflight: this.flags['move-inflight'],
        logger: this.logger,
      })
      if (report.envOverride) this.logger.warn(`USE_AWS_QUEUE=${report.envOverride.slice(0, 20)} is set in this environment: on this machine it still overrides the flag.`)
      if (!this.jsonEnabled()) this.log(renderRollback(report, this.flags['move-inflight']))
      return report
    }

    const enable = mode === 'enable'
    const target = this.flags.tenant === undefined ? 'every tenant without an override' : `tenant ${this.flags.tenant}`
    const [asked] = await askForMissing(
      this.flags.reason?.trim() ? [] : [{flag: '--reason', ask: () => promptText('Why (kept in the audit trail)?', {validate: (value) => value.trim() !== '' || 'Required.'})}],
      `record why USE_AWS_QUEUE changes`,
    )
    const reason = (this.flags.reason?.trim() || asked?.trim()) ?? null
    const database = await this.database()
    const confirmed = await confirmAction({
      message: `Send new messages of ${target} through ${enable ? 'SQS + Lambda' : 'the local queue'}?`,
      action: `${enable ? 'Enabling' : 'Disabling'} USE_AWS_QUEUE for ${target}`,
      yes: this.flags.yes,
    })
    if (!confirmed) {
      this.logger.info('Nothing changed.')
      return {changed: false, cancelled: true}
    }
    const report = await changeCutoverFlag(database, settings, {enable, tenant: this.flags.tenant, reason, actor: operatorName(settings)})
    for (const warning of report.warnings) this.logger.warn(warning)
    if (!this.jsonEnabled()) {
      const who = report.tenant ? `tenant ${report.tenant.slug}` : 'global'
      this.log(
        report.change.changed
          ? `USE_AWS_QUEUE ${who}: ${report.change.oldValue ?? 'unset'} → ${report.change.newValue}. New sends of ${report.tenant ? report.tenant.slug : 'tenants without an override'} go through ${enable ? 'SQS + Lambda' : 'the local queue'}.`
          : `USE_AWS_QUEUE ${who} is already ${report.change.newValue}; nothing changed.`,
      )
    }
    return report
  }

  /** --verify: runCutoverVerify (src/cutover/verify/) on the path the flag selects — the tenant's value with --tenant, else the global one. */
  private async verify(settings: {get(name: string): string | undefined}): Promise<VerifyReport> {
    const keyring = Keyring.fromSettings(settings.get)
    const database = await this.database()
    const tenantId = this.flags.tenant === undefined ? undefined : (await requireTenant(database.db, this.flags.tenant)).id
    const flag = await readUseAwsQueue(database, settings, tenantId)
    this.logger.info(`Verifying the ${flag.value ? 'SQS + Lambda' : 'local queue'} path (USE_AWS_QUEUE from ${flag.source}).`)
    const report = await runCutoverVerify({
      database,
      settings: {get: (name) => (name === 'USE_AWS_QUEUE' ? String(flag.value) : settings.get(name))},
      keyring,
      logger: this.logger,
      ...(this.flags.to ? {to: this.flags.to} : {}),
      ...(this.flags.tenant ? {tenant: this.flags.tenant} : {}),
      ...(this.flags.channel ? {channels: this.flags.channel} : {}),
      timeoutMs: this.flags.timeout * 1000,
      requireRead: this.flags.read,
      ...(this.flags['events-url'] ? {eventsUrl: this.flags['events-url']} : {}),
    })
    if (!this.jsonEnabled()) {
      this.log(renderVerifyReport(report).join('\n'))
      assertVerifyPassed(report)
    } else if (!report.ok) {
      // One JSON document: the report itself, with the failure's exit code.
      this.logJson(report)
      this.exit(6)
    }
    return report
  }
}

function renderRollback(report: RollbackReport, moveInflight: boolean): string {
  const cleared = report.flag.filter((change) => change.newValue === null).length
  const global = report.flag.find((change) => change.scope === 'global')
  const lines = [
    `USE_AWS_QUEUE is off${global?.changed ? ` (global ${global.oldValue ?? 'unset'} → false)` : ' (global was already off)'}; ${cleared} tenant override(s) cleared. New sends go through the local queue.`,
  ]
  if (!report.sqs) {
    lines.push('SQS is not configured here (no SQS_QUEUE_URL): nothing to report or move; messages already on SQS are still processed once by the Lambda.')
    return lines.join('\n')
  }
  const before = report.sqs.depthBefore
  lines.push(`${report.sqs.queue}: ${before.visible} visible, ${before.inFlight} in flight.`)
  if (moveInflight) {
    const after = report.sqs.depthAfter
    lines.push(
      `Moved ${report.sqs.moved} message(s) to the local queue${report.sqs.refused > 0 ? `, ${report.sqs.refused} refused (left on SQS)` : ''}${after ? `; SQS now ${after.visible} visible, ${after.inFlight} in flight` : ''}. The local worker sends them once.`,
    )
  } else {
    lines.push('They are still processed once by the Lambda (the sender is idempotent); --move-inflight moves the visible ones to the local queue instead.')
  }
  return lines.join('\n')
}
