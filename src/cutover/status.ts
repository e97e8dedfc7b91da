import type {Database} from '../db/database.js'
import type {SettingsReader} from '../queue/select-queue.js'
import {allTenantsOnAws, readAudit, readUseAwsQueueState, type AuditEntry} from './flags.js'

export interface CutoverStatus {
  global: {value: boolean; updatedAt: string; updatedBy: string; reason: string | null} | null
  tenants: Array<{tenantId: string; slug: string | null; value: boolean; updatedAt: string; updatedBy: string; reason: string | null}>
  /** Every tenant's new sends go to SQS (global on, no override off). */
  allOnAws: boolean
  /** USE_AWS_QUEUE in this process's environment: it overrides the database here. */
  envOverride: string | null
  /** The flag tables do not exist (migration 0006 not applied). */
  tableMissing: boolean
  audit: AuditEntry[]
}

/** What `engage cutover status` shows: the global value, tenant overrides, the environment override, the last audit entries. */
export async function readCutoverStatus(database: Database, settings: SettingsReader, options: {auditLimit?: number} = {}): Promise<CutoverStatus> {
  const state = await readUseAwsQueueState(database)
  const audit = state.tableMissing ? [] : await readAudit(database, {limit: options.auditLimit ?? 10})
  const env = settings.get('USE_AWS_QUEUE')?.trim()
  return {
    global: state.global
      ? {value: state.global.value === 'true', updatedAt: state.global.updated_at, updatedBy: state.global.updated_by, reason: state.global.reason}
      : null,
    tenants: state.tenants.map((row) => ({
      tenantId: row.scope,
      slug: row.slug,
      value: row.value === 'true',
      updatedAt: row.updated_at,
      updatedBy: row.updated_by,
      reason: row.reason,
    })),
    allOnAws: allTenantsOnAws(state),
    envOverride: env ? env : null,
    tableMissing: state.tableMissing,
    audit,
  }
}
