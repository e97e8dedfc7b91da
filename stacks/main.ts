import {App} from 'cdktf'
import {mkdirSync} from 'node:fs'
import {join, resolve} from 'node:path'
import {pathToFileURL} from 'node:url'
import {Settings} from '../src/config/env.js'
import {stackConfig, type MessagingStackConfig} from './config.js'
import {MessagingStack} from './messaging-stack.js'

/** Name of the one stack; its JSON lands in `<outdir>/stacks/messaging/cdk.tf.json`. */
export const MESSAGING_STACK_NAME = 'messaging'
export const DEFAULT_SYNTH_DIR = join('build', 'cdktf')

export interface SynthStacksOptions {
  /** Environment (and Terraform workspace), default `dev`. */
  env?: string
  /** cdktf output directory, default `build/cdktf` under `baseDir`. */
  outdir?: string
  /** Directory the bundle and state paths are relative to; default the working directory. */
  baseDir?: string
  /** Replace parts of the default configuration (tests break the rules with it). */
  overrides?: Partial<MessagingStackConfig>
  /** Where region and TF_STATE_BUCKET are read; default environment > `.env`. */
  settings?: {get(name: string): string | undefined}
}

export interface SynthResult {
  env: string
  outdir: string
  /** The directory to run terraform / tofu in. */
  stackDir: string
  /** The synthesized Terraform JSON, the artifact of this stack. */
  tfJsonPath: string
  config: MessagingStackConfig
}

/**
 * Synthesizes the messaging stack for one environment into Terraform JSON,
 * in process (no `cdktf` CLI). The zips need not exist yet: the stack refers
 * to them by path and Terraform hashes them at plan time. Throws the stack's
 * rule violations (visibility timeout, connection budget) as UsageErrors.
 */
export function synthStacks(options: SynthStacksOptions = {}): SynthResult {
  const env = options.env ?? 'dev'
  const baseDir = resolve(options.baseDir ?? process.cwd())
  const outdir = resolve(baseDir, options.outdir ?? DEFAULT_SYNTH_DIR)
  const stackDir = join(outdir, 'stacks', MESSAGING_STACK_NAME)
  const config = stackConfig(env, options.overrides, options.settings ?? Settings.fromProcess(baseDir))
  mkdirSync(outdir, {recursive: true})
  const app = new App({outdir, stackTraces: false, skipValidation: false})
  new MessagingStack(app, MESSAGING_STACK_NAME, {config, stackDir, baseDir})
  app.synth()
  return {env, outdir, stackDir, tfJsonPath: join(stackDir, 'cdk.tf.json'), config}
}

// `npx tsx stacks/main.ts [env]` synthesizes without the engage CLI (into ./build/cdktf).
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const result = synthStacks({env: process.argv[2] ?? process.env.ENGAGE_ENV ?? 'dev'})
  process.stderr.write(`Synthesized ${result.tfJsonPath}\n`)
}
