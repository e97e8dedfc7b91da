import {spawn} from 'node:child_process'
import {ProviderError} from '../errors/engage-error.js'
import type {IacBinary} from './iac-binary.js'

export interface TerraformRun {
  code: number
  stdout: string
  stderr: string
}

export interface TerraformRunOptions {
  cwd: string
  /** Added to the inherited environment (TF_VAR_* values travel here, never on the command line). */
  env: Record<string, string>
  /** Values to blank out of anything shown from Terraform's output. */
  secrets: readonly string[]
  /** Exit codes that are not failures (`plan -detailed-exitcode` exits 2 when there are changes). */
  okCodes?: readonly number[]
}

/**
 * Runs one terraform / tofu command without a shell, non-interactively
 * (`TF_INPUT=0`, `TF_IN_AUTOMATION=1`), and collects its output. A failing
 * exit becomes a ProviderError carrying the tail of Terraform's error output,
 * with every known secret value masked first.
 */
export async function runTerraform(binary: IacBinary, args: readonly string[], options: TerraformRunOptions): Promise<TerraformRun> {
  const run = await new Promise<TerraformRun>((resolve, reject) => {
    const child = spawn(binary.path, args, {
      cwd: options.cwd,
      env: {...process.env, ...options.env, TF_INPUT: '0', TF_IN_AUTOMATION: '1'},
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({code: code ?? (signal ? 128 : 1), stdout, stderr}))
  }).catch((error: unknown) => {
    throw new ProviderError(`Could not run ${binary.path}: ${(error as Error).message}`, {code: 'IAC_SPAWN_FAILED', cause: error})
  })
  const masked = {code: run.code, stdout: maskSecrets(run.stdout, options.secrets), stderr: maskSecrets(run.stderr, options.secrets)}
  if (run.code !== 0 && !(options.okCodes ?? []).includes(run.code)) {
    const tail = (masked.stderr.trim() || masked.stdout.trim()).split('\n').slice(-15).join('\n')
    throw new ProviderError(`${binary.name} ${args[0]} failed (exit ${run.code})${tail ? `:\n${tail}` : ''}`, {
      code: 'IAC_COMMAND_FAILED',
      details: {binary: binary.name, command: args[0], exitCode: run.code},
      suggestions: [`Run \`${binary.name} ${args.join(' ')}\` in ${options.cwd} to see the full output.`],
    })
  }
  return masked
}

/** Replaces every occurrence of each secret (longer than 3 characters) with `***`. */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  let result = text
  for (const secret of [...secrets].filter((value) => value.length > 3).sort((a, b) => b.length - a.length)) result = result.split(secret).join('***')
  return result
}
