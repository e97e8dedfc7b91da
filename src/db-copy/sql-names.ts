/** A quoted SQL identifier (both SQLite and PostgreSQL accept double quotes). Names come from catalogs, never from input. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}

export function quoteList(names: readonly string[]): string {
  return names.map(quoteIdentifier).join(', ')
}
