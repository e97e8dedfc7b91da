import {sql, type Kysely} from 'kysely'
import type {Dialect} from '../../db/database.js'
import type {LivePlan} from './select-live-rows.js'
import {TABLES} from './types.js'
import {execute} from './write.js'

/* eslint-disable @typescript-eslint/no-explicit-any */

/** The number of legacy credential rows; 0002 needs ENCRYPTION_KEY only when it is not zero. */
export async function countLegacyRows(db: Kysely<any>): Promise<number> {
  const {rows} = await sql<{n: number | string}>`SELECT COUNT(*) AS n FROM ${sql.table(TABLES.legacy)}`.execute(db)
  return Number(rows[0]?.n ?? 0)
}

/** The number of settings rows, for the report's "left as they were". */
export async function countSettingsRows(db: Kysely<any>): Promise<number> {
  const {rows} = await sql<{n: number | string}>`SELECT COUNT(*) AS n FROM ${sql.table(TABLES.settings)}`.execute(db)
  return Number(rows[0]?.n ?? 0)
}

/** A run of consecutive legacy ids (in id order) converted, written and verified together. */
export interface LegacyPage {
  first: number
  last: number
  rows: number
  /** Per row, in id order: 1 for its pair's live row. */
  live: number[]
}

export function legacyPages(plan: LivePlan, size: number): LegacyPage[] {
  const pages: LegacyPage[] = []
  for (let start = 0; start < plan.ids.length; start += size) {
    const end = Math.min(start + size, plan.ids.length)
    pages.push({first: plan.ids[start]!, last: plan.ids[end - 1]!, rows: end - start, live: plan.live.slice(start, end)})
  }
  return pages
}

/**
 * The positions of a page's rows in the JSON arrays loadLegacyPage returns,
 * and so the fields of LoadedLegacyRow a worker rebuilds (convert.ts).
 */
export const PAGE_COLUMNS = ['id', 'tenant_id', 'channel', 'provider', 'credentials_encrypted', 'webhook_secret', 'tenant_exists', 'settings_id'] as const

/**
 * One page of legacy rows as a JSON array of arrays (PAGE_COLUMNS), built by
 * the database: one string for the page, handed to a crypto worker as is, so
 * the main thread makes no JavaScript object per row. The tenant and settings
 * lookups run on the tables' keys (tenants' primary key, settings' unique
 * (tenant_id, channel)).
 */
export async function loadLegacyPage(db: Kysely<any>, dialect: Dialect, page: LegacyPage): Promise<string> {
  const p = (n: number) => (dialect === 'sqlite' ? '?' : `$${n}`)
  const cells = `l.id, l.tenant_id, l.channel, l.provider, l.credentials_encrypted, l.webhook_secret,
      CASE WHEN EXISTS (SELECT 1 FROM "tenants" AS t WHERE t.id = l.tenant_id) THEN 1 ELSE 0 END,
      (SELECT MAX(s.id) FROM "${TABLES.settings}" AS s WHERE s.tenant_id = l.tenant_id AND s.channel = l.channel)`
  const rows = dialect === 'sqlite' ? `json_group_array(json_array(${cells}) ORDER BY l.id)` : `CAST(json_agg(json_build_array(${cells}) ORDER BY l.id) AS text)`
  const [result] = await execute<{rows: string | null}>(
    db,
    `SELECT ${rows} AS rows FROM "${TABLES.legacy}" AS l WHERE l.id >= ${p(1)} AND l.id <= ${p(2)}`,
    [page.first, page.last],
  )
  return result?.rows ?? '[]'
}
