import type {Logger} from './logger.js'

/** How one step ended, with the line to show for it. */
export interface StepOutcome {
  state: 'done' | 'skipped' | 'failed'
  title: string
}

/** Progress for a known list of steps that some other code runs, in order. */
export interface StepProgress {
  start(key: string): void
  end(key: string, outcome: StepOutcome): void
  /** Marks steps that never ran, stops rendering. Always await it before writing the result. */
  finish(): Promise<void>
}

export interface StepProgressOptions {
  /** Render listr2 progress on stderr (a terminal, no --json); otherwise log plain lines. */
  interactive: boolean
  logger: Logger
}

/**
 * listr2 progress on stderr, driven from outside: each listr task waits for
 * its step's outcome, reported by whoever runs the steps (the migration
 * engine's progress events). stdout stays free for the command's data. When
 * not interactive, each step is one plain log line on stderr instead, and
 * `--json` (whose logger is at warn) prints none.
 */
export async function createStepProgress(
  steps: readonly {key: string; title: string}[],
  options: StepProgressOptions,
): Promise<StepProgress> {
  if (!options.interactive) {
    const titles = new Map(steps.map((step) => [step.key, step.title]))
    return {
      start: (key) => options.logger.info(`${titles.get(key) ?? key}…`),
      // The outcome is the command's data on stdout (and a failure its error); here it is only debug noise.
      end: (_key, outcome) => options.logger.debug(outcome.title),
      finish: async () => {},
    }
  }

  const {DefaultRenderer, Listr, ListrLogger, ProcessOutput} = await import('listr2')
  // listr2 renders only when stdout is a TTY; we render on stderr, whatever stdout is.
  class StderrRenderer extends DefaultRenderer {
    static override nonTTY = true
  }
  const outcomes = new Map<string, {promise: Promise<StepOutcome>; resolve: (outcome: StepOutcome) => void}>()
  for (const step of steps) {
    let resolve!: (outcome: StepOutcome) => void
    const promise = new Promise<StepOutcome>((done) => (resolve = done))
    outcomes.set(step.key, {promise, resolve})
  }
  const listr = new Listr(
    steps.map((step) => ({
      title: step.title,
      task: async (_context: unknown, task: {title: string; skip(message?: string): void}) => {
        const outcome = await outcomes.get(step.key)!.promise
        task.title = outcome.title
        if (outcome.state === 'skipped') task.skip(outcome.title)
        if (outcome.state === 'failed') throw new Error(outcome.title)
      },
    })),
    {
      concurrent: false,
      exitOnError: false,
      // Ctrl-C keeps its default meaning (the process ends, the open transaction rolls back).
      registerSignalListeners: false,
      renderer: StderrRenderer,
      rendererOptions: {logger: new ListrLogger({processOutput: new ProcessOutput(process.stderr, process.stderr)})},
    },
  )
  const running = listr.run().catch(() => {})
  return {
    start: () => {},
    end: (key, outcome) => outcomes.get(key)?.resolve(outcome),
    finish: async () => {
      for (const [key, outcome] of outcomes) outcome.resolve({state: 'skipped', title: `${key}: not run`})
      await running
    },
  }
}
