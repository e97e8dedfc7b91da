import {MigrationError} from '../errors/engage-error.js'
import type {TableShape} from './types.js'

/**
 * Tables with parents before children (a topological sort over foreign keys),
 * ties broken by name so every run copies in the same order. References to
 * tables outside the list are ignored; a cycle cannot be loaded row by row
 * with the constraints on, so it is refused by name.
 */
export function orderByForeignKeys(tables: readonly TableShape[]): TableShape[] {
  const byName = new Map(tables.map((table) => [table.name, table]))
  const ordered: TableShape[] = []
  const placed = new Set<string>()
  const remaining = new Set([...byName.keys()].sort())
  while (remaining.size > 0) {
    const ready = [...remaining].filter((name) =>
      byName.get(name)!.references.every((parent) => placed.has(parent) || !byName.has(parent)),
    )
    if (ready.length === 0) {
      const cycle = [...remaining]
      throw new MigrationError(`The foreign keys between ${cycle.join(', ')} form a cycle, so no table of them can be copied first.`, {
        code: 'COPY_FOREIGN_KEY_CYCLE',
        details: {tables: cycle},
        suggestions: ['Copy these tables by hand (e.g. with deferred constraints), or break the cycle in a migration.'],
      })
    }
    for (const name of ready) {
      ordered.push(byName.get(name)!)
      placed.add(name)
      remaining.delete(name)
    }
  }
  return ordered
}
