import type {Database} from '../db/database.js'
import type {SettingsReader} from '../queue/select-queue.js'
import {requireTenant} from '../tenants/tenant-repository.js'
import {GLOBAL_SCOPE, readUseAwsQueueState, setUseAwsQueue, type FlagChange} from './flags.js'

export interface ChangeFlagInput {
  enable: boolean
  /** Tenant slug or id; omitted for the global value. */
  tenant?: string
  reason: string | null
  actor: string
}

export interface ChangeFlagReport {
  value: boolean
  scope: 'global' | 'tenant'
  tenant?: {id: string; slug: string}
  change: FlagChange
  /** Facts the operator should know about what the flip will do (never secrets). */
  warnings: string[]
}

/**
 * `engage cutover --enable | --disable [--tenant]`: sets USE_AWS_QUEUE
 * globally or for one tenant, audited. An unknown tenant is a NotFoundError
 * before anything is written; setting the value it already has is "already
 * done", with no audit entry.
 */
export async function changeCutoverFlag(database: Database, settings: SettingsReader, input: ChangeFlagInput): Promise<ChangeFlagReport> {
  const tenant = input.tenant === undefined ? undefined : await requireTenant(database.db, input.tenant)
  const change = await setUseAwsQueue(database, tenant?.id ?? GLOBAL_SCOPE, input.enable, {reason: input.reason, actor: input.actor})
  const warnings: string[] = []
  const env = settings.get('USE_AWS_QUEUE')?.trim()
  if (env) warnings.push(`USE_AWS_QUEUE=${env.slice(0, 20)} is set in this environment: on this machine it overrides the database flag.`)
  if (!tenant) {
    const state = await readUseAwsQueueState(database)
    const contrary = state.tenants.filter((row) => row.value !== String(input.enable))
    if (contrary.length > 0) {
      warnings.push(
        `${contrary.length} tenant override(s) keep the other value: ${contrary
          .slice(0, 10)
          .map((row) => row.slug ?? row.scope)
          .join(', ')} (\`engage cutover status\` lists them; --rollback clears them).`,
      )
    }
  }
  if (input.enable && !settings.get('SQS_QUEUE_URL')?.trim()) {
    warnings.push('SQS_QUEUE_URL is not set here: sends started from this machine will fail until it is (the backend and Lambdas read their own).')
  }
  return {
    value: input.enable,
    scope: tenant ? 'tenant' : 'global',
    ...(tenant ? {tenant: {id: tenant.id, slug: tenant.slug}} : {}),
    change,
    warnings,
  }
}
