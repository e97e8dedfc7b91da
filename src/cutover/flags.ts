import {hostname, userInfo} from 'node:os'
import type {Kysely} from 'kysely'
import {inWriteTransaction, type Database} from '../db/database.js'
import {DatabaseError, EngageError} from '../errors/engage-error.js'
import {queueKindFor, type SettingsReader} from '../queue/select-queue.js'

/** The flag that moves new sends from the local queue to SQS + Lambda. */
export const USE_AWS_QUEUE = 'USE_AWS_QUEUE'
/** The scope of a flag row that applies to every tenant without a row of its own. */
export const GLOBAL_SCOPE = 'global'

export const FLAGS_TABLE = 'feature_flags'
export const AUDIT_TABLE = 'feature_flag_audit'

export type FlagSource = 'env' | 'tenant' | 'global' | 'default'

export interface FlagReading {
  value: boolean
  /** Where the value came from: the process environment (a local override), the tenant's row, the global row, or none. */
  source: FlagSource
  /** True when the database has no feature_flags table yet (migration 0006 not applied): no row can exist, so the default holds. */
  tableMissing?: boolean
}

export interface FlagRow {
  name: string
  scope: string
  value: string
  updated_at: string
  updated_by: string
  reason: string | null
}

export interface AuditEntry {
  id: number
  name: string
  scope: string
  oldValue: string | null
  newValue: string | null
  reason: string | null
  changedBy: string
  changedAt: string
}

/**
 * USE_AWS_QUEUE for one tenant (or for the platform when `tenantId` is
 * omitted), by precedence: the USE_AWS_QUEUE environment variable when set
 * (a local override, for one machine; an invalid value is a UsageError),
 * else the tenant's row of `feature_flags`, else the global row, else off.
 * The backend, the worker and the Lambdas call this at run time, so a flip
 * takes effect without a redeploy.
 */
export async function readUseAwsQueue(database: Database, settings: SettingsReader, tenantId?: string): Promise<FlagReading> {
  const raw = settings.get(USE_AWS_QUEUE)
  if (raw !== undefined && raw.trim() !== '') return {value: queueKindFor(settings) === 'sqs', source: 'env'}
  const scopes = tenantId === undefined ? [GLOBAL_SCOPE] : [GLOBAL_SCOPE, tenantId]
  const rows = await readRows(database, (db) => db.selectFrom(FLAGS_TABLE).select(['scope', 'value']).where('name', '=', USE_AWS_QUEUE).where('scope', 'in', scopes).execute())
  if (rows === undefined) return {value: false, source: 'default', tableMissing: true}
  const tenantRow = tenantId === undefined ? undefined : rows.find((row) => row.scope === tenantId)
  if (tenantRow) return {value: tenantRow.value === 'true', source: 'tenant'}
  const globalRow = rows.find((row) => row.scope === GLOBAL_SCOPE)
  if (globalRow) return {value: globalRow.value === 'true', source: 'global'}
  return {value: false, source: 'default'}
}

export interface FlagState {
  global: FlagRow | undefined
  /** Tenant rows, each with the tenant's slug when the tenant still exists. */
  tenants: Array<FlagRow & {slug: string | null}>
  tableMissing: boolean
}

/** Every row of USE_AWS_QUEUE: the global one and the per-tenant overrides. */
export async function readUseAwsQueueState(database: Database): Promise<FlagState> {
  const rows = await readRows(database, (db) =>
    db
      .selectFrom(`${FLAGS_TABLE} as f`)
      .leftJoin('tenants as t', 't.id', 'f.scope')
      .select(['f.name', 'f.scope', 'f.value', 'f.updated_at', 'f.updated_by', 'f.reason', 't.slug'])
      .where('f.name', '=', USE_AWS_QUEUE)
      .orderBy('t.slug')
      .orderBy('f.scope')
      .execute(),
  )
  if (rows === undefined) return {global: undefined, tenants: [], tableMissing: true}
  const typed = rows as Array<FlagRow & {slug: string | null}>
  const global = typed.find((row) => row.scope === GLOBAL_SCOPE)
  return {
    global: global === undefined ? undefined : withoutSlug(global),
    tenants: typed.filter((row) => row.scope !== GLOBAL_SCOPE),
    tableMissing: false,
  }
}

/**
 * True when every tenant's new sends go to SQS: the global row is on and no
 * tenant row is off. This is when the local worker hands over.
 */
export function allTenantsOnAws(state: FlagState): boolean {
  return state.global?.value === 'true' && state.tenants.every((row) => row.value === 'true')
}

/** The latest audit entries of a flag, newest first. */
export async function readAudit(database: Database, options: {name?: string; limit?: number} = {}): Promise<AuditEntry[]> {
  const rows = await readRows(database, (db) =>
    db
      .selectFrom(AUDIT_TABLE)
      .selectAll()
      .where('name', '=', options.name ?? USE_AWS_QUEUE)
      .orderBy('id', 'desc')
      .limit(options.limit ?? 10)
      .execute(),
  )
  return (rows ?? []).map((row) => ({
    id: Number(row.id),
    name: row.name,
    scope: row.scope,
    oldValue: row.old_value,
    newValue: row.new_value,
    reason: row.reason,
    changedBy: row.changed_by,
    changedAt: row.changed_at,
  }))
}

export interface FlagChange {
  scope: string
  oldValue: string | null
  /** null: the row was removed (a tenant override cleared). */
  newValue: string | null
  /** False when the value already was what was asked: nothing written, no audit entry. */
  changed: boolean
}

export interface ChangeOptions {
  reason: string | null
  /** Who: from {@link operatorName}. */
  actor: string
  now?: () => Date
}

/**
 * Sets USE_AWS_QUEUE for `scope` (GLOBAL_SCOPE or a tenant id) and appends
 * an audit entry, in one write transaction. Setting the value it already has
 * writes nothing and says so (`changed: false`).
 */
export async function setUseAwsQueue(database: Database, scope: string, value: boolean, options: ChangeOptions): Promise<FlagChange> {
  const newValue = value ? 'true' : 'false'
  return writeFlags(database, async (db) => {
    const current = await db.selectFrom(FLAGS_TABLE).select('value').where('name', '=', USE_AWS_QUEUE).where('scope', '=', scope).executeTakeFirst()
    const oldValue = (current?.value as string | undefined) ?? null
    if (oldValue === newValue) return {scope, oldValue, newValue, changed: false}
    const at = (options.now ?? (() => new Date()))().toISOString()
    await db
      .insertInto(FLAGS_TABLE)
      .values({name: USE_AWS_QUEUE, scope, value: newValue, updated_at: at, updated_by: options.actor, reason: options.reason})
      .onConflict((conflict) => conflict.columns(['name', 'scope']).doUpdateSet({value: newValue, updated_at: at, updated_by: options.actor, reason: options.reason}))
      .execute()
    await db
      .insertInto(AUDIT_TABLE)
      .values({name: USE_AWS_QUEUE, scope, old_value: oldValue, new_value: newValue, reason: options.reason, changed_by: options.actor, changed_at: at})
      .execute()
    return {scope, oldValue, newValue, changed: true}
  })
}

/**
 * The rollback flip, in one write transaction: the global row off and every
 * tenant override removed (each removal audited with new_value NULL), so
 * that no tenant keeps sending through SQS and no stale "off" override
 * lingers to surprise the next cutover.
 */
export async function rollBackUseAwsQueue(database: Database, options: ChangeOptions): Promise<FlagChange[]> {
  return writeFlags(database, async (db) => {
    const at = (options.now ?? (() => new Date()))().toISOString()
    const rows = (await db.selectFrom(FLAGS_TABLE).select(['scope', 'value']).where('name', '=', USE_AWS_QUEUE).execute()) as Array<{scope: string; value: string}>
    const changes: FlagChange[] = []
    const global = rows.find((row) => row.scope === GLOBAL_SCOPE)
    if (global?.value === 'false') changes.push({scope: GLOBAL_SCOPE, oldValue: 'false', newValue: 'false', changed: false})
    else {
      await db
        .insertInto(FLAGS_TABLE)
        .values({name: USE_AWS_QUEUE, scope: GLOBAL_SCOPE, value: 'false', updated_at: at, updated_by: options.actor, reason: options.reason})
        .onConflict((conflict) => conflict.columns(['name', 'scope']).doUpdateSet({value: 'false', updated_at: at, updated_by: options.actor, reason: options.reason}))
        .execute()
      changes.push({scope: GLOBAL_SCOPE, oldValue: global?.value ?? null, newValue: 'false', changed: true})
    }
    for (const row of rows.filter((candidate) => candidate.scope !== GLOBAL_SCOPE)) {
      await db.deleteFrom(FLAGS_TABLE).where('name', '=', USE_AWS_QUEUE).where('scope', '=', row.scope).execute()
      changes.push({scope: row.scope, oldValue: row.value, newValue: null, changed: true})
    }
    const audited = changes.filter((change) => change.changed)
    if (audited.length > 0) {
      await db
        .insertInto(AUDIT_TABLE)
        .values(
          audited.map((change) => ({
            name: USE_AWS_QUEUE,
            scope: change.scope,
            old_value: change.oldValue,
            new_value: change.newValue,
            reason: options.reason,
            changed_by: options.actor,
            changed_at: at,
          })),
        )
        .execute()
    }
    return changes
  })
}

/** Who is changing a flag: ENGAGE_OPERATOR when set, else the OS user @ host. */
export function operatorName(settings: SettingsReader): string {
  const named = settings.get('ENGAGE_OPERATOR')?.trim()
  if (named) return named.slice(0, 200)
  let user = 'unknown'
  try {
    user = userInfo().username
  } catch {
    // No passwd entry (some containers): the host still says where it came from.
  }
  return `${user}@${hostname()}`
}

function withoutSlug(row: FlagRow & {slug?: string | null}): FlagRow {
  const {slug: _slug, ...rest} = row
  return rest
}

/* eslint-disable @typescript-eslint/no-explicit-any */

const MISSING_TABLE = /no such table: feature_flag|relation "feature_flag\w*" does not exist/

/** A read that yields undefined when the flag tables do not exist yet; other failures are DatabaseErrors. */
async function readRows<T>(database: Database, read: (db: Database['db']) => Promise<T>): Promise<T | undefined> {
  try {
    return await read(database.db)
  } catch (error) {
    if (MISSING_TABLE.test((error as Error)?.message ?? '')) return undefined
    throw asDatabaseError(error, database, 'read')
  }
}

async function writeFlags<T>(database: Database, work: (db: Kysely<any>) => Promise<T>): Promise<T> {
  try {
    return await inWriteTransaction(database, work)
  } catch (error) {
    if (MISSING_TABLE.test((error as Error)?.message ?? '')) {
      throw new DatabaseError(`The feature flag tables do not exist in ${database.target.display}.`, {
        code: 'FEATURE_FLAGS_TABLES_MISSING',
        cause: error,
        suggestions: ['Run `engage migrate up` against this database first (migration 0006 creates them).'],
      })
    }
    throw asDatabaseError(error, database, 'write')
  }
}

function asDatabaseError(error: unknown, database: Database, operation: string): EngageError {
  if (error instanceof EngageError) return error
  return new DatabaseError(`Could not ${operation} the feature flags in ${database.target.display}: ${(error as Error)?.message ?? String(error)}`, {
    code: 'FEATURE_FLAGS_FAILED',
    cause: error,
    suggestions: ['Check that the database is reachable and migrated (`engage migrate status`).'],
  })
}
