import type {CopyProgressEvent, CopyResult} from './copy-database.js'

/** The human report (stdout): one line per table with rows, seconds, rows/s and ✓/✗, then a summary. */
export function renderCopy(result: CopyResult): string[] {
  const header = ['TABLE', 'ROWS', 'COPIED', 'SECONDS', 'ROWS/S', 'CHECKSUM']
  const rows = result.tables.map((table) => [
    table.table,
    String(table.rows),
    String(table.copiedThisRun),
    table.seconds.toFixed(2),
    String(table.rowsPerSecond),
    table.match ? '✓' : `✗ (target ${table.target.rows} rows)`,
  ])
  const widths = header.map((title, index) => Math.max(title.length, ...rows.map((row) => row[index]!.length)))
  const line = (cells: string[]) =>
    cells
      .map((cell, index) => (index === 0 || index === cells.length - 1 ? cell.padEnd(widths[index]!) : cell.padStart(widths[index]!)))
      .join('  ')
      .trimEnd()
  const total = result.tables.reduce((sum, table) => sum + table.rows, 0)
  const summary =
    result.outcome === 'already-copied'
      ? `Already done: ${result.target} already holds an identical copy of ${result.source} (${total} rows, checksums equal).`
      : `${result.outcome === 'resumed' ? 'Resumed and copied' : 'Copied'} ${total} rows in ${result.tables.length} tables from ${result.source} to ${result.target} in ${result.seconds.toFixed(1)} s; ` +
        (result.verified ? 'every count and checksum matches.' : 'VERIFICATION FAILED.')
  return [
    `Migration version: ${result.migrations[result.migrations.length - 1] ?? '(none)'} (${result.migrations.length} applied on both sides)`,
    ...(result.truncated.length ? [`Truncated first: ${result.truncated.join(', ')}`] : []),
    line(header),
    ...rows.map(line),
    ...(result.sequences.length
      ? [`Sequences reset: ${result.sequences.map((reset) => `${reset.table}.${reset.column} → next ${reset.next}`).join(', ')}`]
      : []),
    summary,
  ]
}

/** A progress line for stderr, or undefined for events not worth a line. */
export function describeProgress(event: CopyProgressEvent): string | undefined {
  switch (event.type) {
    case 'truncated':
      return `Truncated ${event.tables.length} tables.`
    case 'start':
      return `${event.resumed ? 'Resuming an interrupted copy' : 'Copying'}: ${event.tables.length} tables, ${event.totalRows} rows.`
    case 'table':
      return `${event.table}: ${event.rowsCopied ? `resuming after ${event.rowsCopied} of ` : ''}${event.totalRows} rows`
    case 'batch':
      return `${event.table}: ${event.rowsCopied}/${event.totalRows} rows committed`
    case 'verify':
      return undefined
  }
}

/** The --json document: the result without the error object (the error is printed by the base command). */
export function copyJson(result: CopyResult): Record<string, unknown> {
  const {error: _error, ...rest} = result
  return rest
}
