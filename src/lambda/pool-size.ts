/** The environment variable the messaging stack sets from its connection budget (stacks/config.ts). */
export const PG_POOL_MAX = 'PG_POOL_MAX'

/**
 * The `pg` Pool size of one Lambda instance. The stack derives the sender's
 * maximum concurrency from a database connection budget assuming every
 * instance holds at most PG_POOL_MAX connections, so the handlers must open
 * exactly that many; `fallback` applies only where the variable is unset
 * (the handler run outside the stack). A value that is not a positive
 * integer fails the start rather than silently breaking the budget.
 */
export function lambdaPoolSize(get: (name: string) => string | undefined, fallback: number): number {
  const raw = get(PG_POOL_MAX)?.trim()
  if (!raw) return fallback
  const size = Number(raw)
  if (!Number.isInteger(size) || size < 1) throw new Error(`${PG_POOL_MAX} must be a positive integer, got "${raw.slice(0, 16)}".`)
  return size
}
