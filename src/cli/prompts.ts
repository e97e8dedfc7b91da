import {InterruptedError, UsageError} from '../errors/engage-error.js'

/**
 * Prompts for the commands that ask for missing values. They draw on stderr
 * (stdout is data) and run only when both stdin and stderr are terminals;
 * otherwise the command fails with the flags to pass instead of hanging.
 * Ctrl-C at a prompt (inquirer's ExitPromptError) becomes InterruptedError, exit 130.
 */
export function canPrompt(): boolean {
  return Boolean(process.stdin.isTTY && process.stderr.isTTY)
}

/** A value a command needs, the flag that provides it, and how to ask for it in a terminal. */
export interface MissingValue {
  /** Flag (or environment variable) that supplies it: named in the error without a terminal. */
  flag: string
  ask: () => Promise<string>
}

/**
 * Fills missing values: with a terminal, asks each in turn; without one, fails
 * once naming every flag to pass. Nothing is asked when nothing is missing.
 */
export async function askForMissing(missing: MissingValue[], what: string): Promise<string[]> {
  if (missing.length === 0) return []
  if (!canPrompt()) {
    throw new UsageError(`Missing ${missing.map((value) => value.flag).join(', ')} (no terminal to ask in).`, {
      code: 'MISSING_INPUT',
      suggestions: [`Pass ${missing.map((value) => value.flag).join(' and ')} to ${what}, or run it in a terminal to be asked.`],
      details: {missing: missing.map((value) => value.flag)},
    })
  }
  const answers: string[] = []
  for (const value of missing) answers.push(await value.ask())
  return answers
}

const context = () => ({output: process.stderr})

async function interruptible<T>(prompt: () => Promise<T>): Promise<T> {
  try {
    return await prompt()
  } catch (error) {
    if ((error as Error)?.name === 'ExitPromptError' || (error as Error)?.name === 'AbortPromptError') {
      throw new InterruptedError('Interrupted at a prompt; nothing was written.', {code: 'INTERRUPTED'})
    }
    throw error
  }
}

/** A text prompt on stderr. */
export async function promptText(message: string, options: {validate?: (value: string) => true | string; default?: string} = {}): Promise<string> {
  const {input} = await import('@inquirer/prompts')
  return interruptible(() => input({message, validate: options.validate, default: options.default}, context()))
}

/** A masked prompt for a secret: the typed characters show as `*`, never the value. */
export async function promptSecret(message: string, options: {validate?: (value: string) => true | string} = {}): Promise<string> {
  const {password} = await import('@inquirer/prompts')
  return interruptible(() => password({message, mask: '*', validate: options.validate ?? ((value) => value.trim() !== '' || 'Required.')}, context()))
}

/** A multiple choice with at least one answer. */
export async function promptChoices<T extends string>(message: string, choices: readonly T[], checked: readonly T[] = []): Promise<T[]> {
  const {checkbox} = await import('@inquirer/prompts')
  return interruptible(() =>
    checkbox<T>(
      {
        message,
        choices: choices.map((value) => ({value, checked: checked.includes(value)})),
        required: true,
      },
      context(),
    ),
  )
}

/** Reads all of stdin (for --auth-token-stdin), without the trailing newline. */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer))
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '')
}
