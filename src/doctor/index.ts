import type {Logger} from '../cli/logger.js'
import type {Settings} from '../config/env.js'
import {EngageError, ProviderError} from '../errors/engage-error.js'
import {checkBackendWebhook} from './backend-webhook-check.js'
import {checkChannels, checkDatabase, checkEncryptionKey, checkMigrations, checkQueues} from './checks.js'
import {checkTwilioWebhook} from './twilio-webhook-check.js'
import type {DoctorCheck, DoctorReport} from './types.js'

export type {DoctorCheck, DoctorReport} from './types.js'

/**
 * `engage doctor`: every check the stack needs, in order, each with what it
 * saw and the fix. A check that cannot run because an earlier one failed
 * (no database) fails with that reason rather than being left out. Reads
 * only, except the Twilio signed self-test's one kept-callback row, which it
 * deletes again (see checkTwilioWebhook). Never throws for a failed check.
 */
export async function runDoctor(deps: {databaseUrl: string; settings: Settings; logger: Logger}): Promise<DoctorReport> {
  const get = (name: string) => deps.settings.get(name)
  const checks: DoctorCheck[] = []
  const {check: reachable, database} = await checkDatabase(deps.databaseUrl)
  checks.push(reachable)
  try {
    if (database) checks.push(await checkMigrations(database, deps.settings, deps.logger))
    const {check: keyCheck, keyring} = await checkEncryptionKey(database, get)
    checks.push(keyCheck)
    if (database) checks.push(...(await checkChannels(database)))
    checks.push(...(await checkQueues(database, get)))
    checks.push(await checkTwilioWebhook({get, database, keyring: keyCheck.ok ? keyring : undefined}))
    checks.push(await checkBackendWebhook(get))
  } finally {
    await database?.close()
  }
  return {ok: checks.every((check) => check.ok), checks}
}

/** ✓ / ✗ lines for stdout, the fix under each failure. */
export function renderDoctorReport(report: DoctorReport): string[] {
  const lines: string[] = []
  for (const check of report.checks) {
    lines.push(`${check.ok ? '✓' : '✗'} ${check.name}: ${check.detail}`)
    if (!check.ok && check.fix) lines.push(`    fix: ${check.fix}`)
  }
  const failed = report.checks.filter((check) => !check.ok).length
  lines.push(failed === 0 ? `All ${report.checks.length} checks passed.` : `${failed} of ${report.checks.length} checks failed.`)
  return lines
}

/** The error a failed report exits with: the class of the first failed check (database 3, migrations 4, key 5, providers 6, configuration 2). */
export function doctorFailure(report: DoctorReport): EngageError | undefined {
  const failed = report.checks.filter((check) => !check.ok)
  if (failed.length === 0) return undefined
  const ErrorClass = failed[0]!.failsAs ?? ProviderError
  const error = new ErrorClass(`${failed.length} doctor check(s) failed: ${failed.map((check) => check.name).join('; ')}.`, {code: 'DOCTOR_CHECKS_FAILED'})
  error.suggestions.push(...failed.map((check) => check.fix).filter((fix): fix is string => fix !== undefined).slice(0, 3))
  return error
}
