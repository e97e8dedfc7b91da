import type {MigrationProgressEvent} from '../migrate/migrator.js'
import type {MigrationResult, MigrationRunResult, MigrationStatusResult} from '../migrate/results.js'
import type {MigrationReport} from '../migrate/types.js'
import {short} from '../migrate/drift.js'
import type {StepProgress} from './progress.js'

/** Human lines (stdout) for a finished or stopped run: what happened to each migration, and its report. */
export function renderRun(result: MigrationRunResult): string[] {
  const lines: string[] = []
  if (result.results.length === 0 && !result.error) {
    return [result.direction === 'up' ? 'Nothing to do: the database is up to date.' : 'Nothing to do: no migration is applied.']
  }
  for (const item of result.results) {
    // A failure is told once, by the error on stderr; stdout keeps what did happen before it.
    if (result.error && (item.status === 'failed' || item.status === 'not-run')) continue
    lines.push(describeResult(item))
    if (item.report) lines.push(...renderReport(item.report, '    '))
  }
  if (!result.error) {
    if (result.dryRun) lines.push('Dry run: everything above was rolled back; the database is unchanged.')
    else if (result.results.every((item) => item.status === 'skipped')) {
      lines.push('Nothing to do: another run applied these migrations meanwhile.')
    }
  }
  return lines
}

export function describeResult(item: MigrationResult): string {
  const took = item.durationMs === undefined ? '' : ` (${item.durationMs} ms)`
  switch (item.status) {
    case 'applied':
      return `Applied ${item.name}${took}`
    case 'reverted':
      return `Reverted ${item.name}${took}`
    case 'dry-run':
      return `Would apply ${item.name}${took}`
    case 'skipped':
      return `Skipped ${item.name}: another run already ${item.direction === 'up' ? 'applied' : 'reverted'} it`
    case 'failed':
      return `Failed ${item.name}: rolled back, not recorded`
    case 'not-run':
      return `Not run ${item.name}`
  }
}

/** A migration report as indented `key: value` lines; nested values as compact JSON. */
export function renderReport(report: MigrationReport, indent = '  '): string[] {
  return Object.entries(report).map(([key, value]) => {
    const shown =
      value === null || ['string', 'number', 'boolean'].includes(typeof value)
        ? String(value)
        : Array.isArray(value) && value.every((item) => ['string', 'number'].includes(typeof item))
          ? value.length === 0
            ? '(none)'
            : value.join(', ')
          : JSON.stringify(value)
    return `${indent}${key}: ${shown}`
  })
}

/** The `migrate up|down --json` document. */
export function runJson(result: MigrationRunResult, database: string): Record<string, unknown> {
  return {
    database,
    direction: result.direction,
    dryRun: result.dryRun,
    outcome: result.results.length === 0 ? 'nothing-to-do' : result.dryRun ? 'rolled-back' : 'done',
    migrations: result.results,
  }
}

/** A fixed-width table of `status`. Checksums are shortened; --json has them whole. */
export function renderStatus(status: MigrationStatusResult): string[] {
  const header = ['MIGRATION', 'STATE', 'APPLIED AT', 'APPLIED BY', 'TOOK', 'CHECKSUM']
  const rows = status.migrations.map((entry) => [
    entry.name,
    entry.drift ? `drifted (${entry.drift})` : entry.state,
    entry.appliedAt ?? '',
    entry.appliedBy ?? '',
    entry.durationMs === undefined ? '' : `${entry.durationMs} ms`,
    entry.drift === 'checksum-changed'
      ? `${short(entry.appliedChecksum ?? '')} ≠ ${short(entry.checksum ?? '')}`
      : short(entry.appliedChecksum ?? entry.checksum ?? ''),
  ])
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)))
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column]!))
      .join('  ')
      .trimEnd()
  const {applied, pending, drifted} = status.summary
  return [
    `Database: ${status.database}`,
    line(header),
    ...rows.map(line),
    `${applied} applied, ${pending} pending, ${drifted} drifted.${pending > 0 && drifted === 0 ? ' Run `engage migrate up` to apply the pending ones.' : ''}`,
  ]
}

/** Feeds the engine's progress events to a StepProgress keyed by migration name. */
export function progressListener(progress: StepProgress): (event: MigrationProgressEvent) => void {
  return (event) => {
    if (event.type === 'start') progress.start(event.name)
    else {
      const {result} = event
      const state = result.status === 'failed' ? 'failed' : result.status === 'skipped' ? 'skipped' : 'done'
      progress.end(result.name, {state, title: describeResult(result)})
    }
  }
}

export function progressSteps(names: readonly string[], direction: 'up' | 'down', dryRun = false): {key: string; title: string}[] {
  const verb = dryRun ? 'Dry-running' : direction === 'up' ? 'Applying' : 'Reverting'
  return names.map((name) => ({key: name, title: `${verb} ${name}`}))
}
