import type {Kysely} from 'kysely'
import type {Dialect} from '../../db/database.js'
import {packRows} from './packed-rows.js'
import type {PageRows} from './types.js'
import {execute} from './write.js'

/* eslint-disable @typescript-eslint/no-explicit-any */

/** One selected column: the name it has in each row object, and its SQL. */
export type PageColumn = readonly [name: string, expression: string]

/**
 * Selects a page of rows (`columns` of `from`) in the cheapest shape to hand
 * to a worker (types.ts PageRows). SQLite builds one JSON array of tuples in
 * C, in no particular order (rowsOf orders them): one string for the main
 * thread to pass on, no object per row here. PostgreSQL sends plain rows in
 * `id` order (building JSON costs its server more than the driver's parse
 * costs this thread), which this thread packs into one string
 * (packed-rows.ts) for the worker to unpack a row at a time.
 * `first`/`last`: the page's smallest and largest `id`, which each row also
 * carries as `id`.
 */
export async function selectPage<T extends {id: number}>(
  db: Kysely<any>,
  dialect: Dialect,
  columns: readonly PageColumn[],
  id: string,
  from: string,
  parameters: unknown[],
): Promise<{rows: PageRows<T>; count: number; first: number; last: number}> {
  if (dialect === 'postgres') {
    const rows = await execute<T>(db, `SELECT ${columns.map(([name, expression]) => `${expression} AS "${name}"`).join(', ')} ${from} ORDER BY ${id}`, parameters)
    const packed = packRows(rows, columns.map(([name]) => name))
    return {rows: packed, count: rows.length, first: rows[0]?.id ?? 0, last: rows.at(-1)?.id ?? 0}
  }
  const tuple = `json_array(${columns.map(([, expression]) => expression).join(', ')})`
  const [result] = await execute<{rows: string | null; count: number; first: number | null; last: number | null}>(
    db,
    `SELECT json_group_array(${tuple}) AS rows, COUNT(*) AS count, MIN(${id}) AS first, MAX(${id}) AS last ${from}`,
    parameters,
  )
  return {rows: result?.rows ?? '[]', count: Number(result?.count ?? 0), first: Number(result?.first ?? 0), last: Number(result?.last ?? 0)}
}
