import {InterruptedError, UsageError} from '../errors/engage-error.js'

export interface ConfirmOptions {
  /** The question, asked on stderr. */
  message: string
  /** What the command would do, for the no-terminal error ("Reverting 2 migrations"). */
  action: string
  /** The operator passed --yes: no question. */
  yes: boolean
  /** The flag that skips the question, named in the error. */
  flag?: string
}

/**
 * Confirms a destructive action. `--yes` skips the question; with no
 * terminal to ask in (stdin or stderr not a TTY) it fails with a UsageError
 * naming the flag, so a script never hangs on a prompt. Ctrl-C at the prompt
 * is an InterruptedError (exit 130). Resolves false when the operator says no.
 */
export async function confirmAction(options: ConfirmOptions): Promise<boolean> {
  if (options.yes) return true
  const flag = options.flag ?? '--yes'
  if (!process.stdin.isTTY || !process.stderr.isTTY) {
    throw new UsageError(`${options.action} needs confirmation, and there is no terminal to ask in.`, {
      code: 'CONFIRMATION_REQUIRED',
      suggestions: [`Pass ${flag} to confirm non-interactively.`],
    })
  }
  const {confirm} = await import('@inquirer/prompts')
  try {
    return await confirm({message: options.message, default: false}, {output: process.stderr})
  } catch (error) {
    const name = (error as Error)?.name
    if (name === 'ExitPromptError' || name === 'AbortPromptError') {
      throw new InterruptedError('Interrupted at the confirmation prompt; nothing was changed.', {code: 'INTERRUPTED'})
    }
    throw error
  }
}
