import {MigrationError} from '../errors/engage-error.js'
import {orderByForeignKeys} from './foreign-key-order.js'
import type {TablePlan, TableShape} from './types.js'

/**
 * Matches the source's tables to the target's by name, and each table's
 * columns by name. Both databases are at the same migration version when this
 * runs, so any difference is drift (a hand-made table or column); it is
 * refused with every difference named, before anything is written. The plan
 * lists tables parents first, in the target's foreign-key order (the one its
 * constraints enforce) merged with the source's.
 */
export function planCopy(source: readonly TableShape[], target: readonly TableShape[]): TablePlan[] {
  const sourceByName = new Map(source.map((table) => [table.name, table]))
  const targetByName = new Map(target.map((table) => [table.name, table]))
  const problems: string[] = []
  const onlySource = [...sourceByName.keys()].filter((name) => !targetByName.has(name))
  const onlyTarget = [...targetByName.keys()].filter((name) => !sourceByName.has(name))
  if (onlySource.length) problems.push(`tables only in the source: ${onlySource.join(', ')}`)
  if (onlyTarget.length) problems.push(`tables only in the target: ${onlyTarget.join(', ')}`)
  for (const [name, table] of targetByName) {
    const other = sourceByName.get(name)
    if (!other) continue
    const targetColumns = new Set(table.columns.map((column) => column.name))
    const sourceColumns = new Set(other.columns.map((column) => column.name))
    const missingInTarget = [...sourceColumns].filter((column) => !targetColumns.has(column))
    const missingInSource = [...targetColumns].filter((column) => !sourceColumns.has(column))
    if (missingInTarget.length) problems.push(`${name}: columns only in the source: ${missingInTarget.join(', ')}`)
    if (missingInSource.length) problems.push(`${name}: columns only in the target: ${missingInSource.join(', ')}`)
  }
  if (problems.length > 0) {
    throw new MigrationError(`The source and target schemas differ: ${problems.join('; ')}.`, {
      code: 'COPY_SCHEMA_MISMATCH',
      details: {differences: problems},
      suggestions: [
        'Both databases should have exactly the schema `engage migrate up` makes; remove hand-made tables or columns, or migrate both to the same version.',
        'Nothing was written to the target.',
      ],
    })
  }

  const merged = target.map((table) => ({
    ...table,
    references: [...new Set([...table.references, ...sourceByName.get(table.name)!.references])],
  }))
  return orderByForeignKeys(merged).map((table) => {
    const sourceTable = sourceByName.get(table.name)!
    const columns = table.columns.map((column) => column.name)
    const primaryKey = sourceTable.primaryKey.length > 0 ? sourceTable.primaryKey : table.primaryKey
    const orderColumns = primaryKey.length > 0 ? primaryKey : columns
    const byteOrdered = new Map(table.columns.map((column) => [column.name, column.byteOrdered ?? true]))
    return {
      table: table.name,
      columns,
      targetTypes: Object.fromEntries(table.columns.map((column) => [column.name, column.type])),
      collateC: orderColumns.filter((column) => !byteOrdered.get(column)),
      sourceKey: primaryKey.length > 0 ? primaryKey : 'rowid',
      orderColumns,
    }
  })
}
