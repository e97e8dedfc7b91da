import {chmodSync, existsSync, mkdirSync, rmSync} from 'node:fs'
import {join, relative, resolve} from 'node:path'
import type {StepProgress} from '../cli/progress.js'
import {updateDotenv, type DotenvUpdateResult} from '../config/dotenv-writer.js'
import {NotFoundError, ProviderError} from '../errors/engage-error.js'
import {buildLambdaBundles, type LambdaBundle} from '../lambda/bundle.js'
import {projectRoot} from '../config/project-root.js'
import {bundleZipPath, entryPath, LAMBDA_FUNCTIONS} from '../lambda/functions.js'
import {findIacBinary, type IacBinary, type IacBinaryName} from './iac-binary.js'
import {runTerraform} from './terraform-runner.js'
import {terraformVariables} from './terraform-variables.js'

/** How far a deploy goes: synthesize only, stop after the plan, or apply it. */
export type DeployMode = 'synth' | 'plan' | 'apply'

export interface DeployDevOptions {
  /** Environment name = Terraform workspace (`dev`). */
  env: string
  mode: DeployMode
  /** Directory holding `.env`, `build/` and the local state (the working directory). */
  baseDir: string
  /** Use the zips already in build/lambda instead of building them (fails if one is missing). */
  skipBuild: boolean
  /** Force `tofu` or `terraform`; default: whichever is on PATH, tofu first. */
  binary?: IacBinaryName
  /** `.env` file the outputs are written to. */
  dotenvPath: string
  settings: {get(name: string): string | undefined}
  environment: NodeJS.ProcessEnv
}

/** What the command layer provides: progress rendering, the confirmation, and where plan text goes. */
export interface DeployDevHooks {
  progress(steps: readonly {key: string; title: string}[]): Promise<StepProgress>
  /** Asked only in `apply` mode when the plan has changes; false leaves everything as planned, unapplied. */
  confirm(question: string): Promise<boolean>
  showPlan(text: string): void
  notice(message: string): void
}

export interface DeployDevResult {
  env: string
  mode: DeployMode
  binary: IacBinary | null
  tfJsonPath: string
  bundles: LambdaBundle[]
  /** null when no plan ran. */
  plan: {planFile: string; changes: boolean} | null
  applied: boolean
  /** Non-sensitive string outputs written to `.env`. */
  outputs: Record<string, string>
  dotenv: DotenvUpdateResult | null
}

interface Step {
  key: string
  title: string
  run(): Promise<string | void>
}

/**
 * `engage deploy dev`: build the Lambda zips, synthesize the CDKTF stack to
 * Terraform JSON (cdktf is loaded only here), then `init`, `workspace select
 * -or-create <env>`, `plan -out`, confirm, `apply` that saved plan, read
 * `output -json` and write the outputs into `.env` (other keys untouched).
 * Without terraform or tofu on PATH it still synthesizes, then fails unless
 * only synthesis was asked for. Secrets reach Terraform as TF_VAR_*
 * environment variables of its process, never arguments, and are masked in
 * anything shown.
 */
export async function deployDev(options: DeployDevOptions, hooks: DeployDevHooks): Promise<DeployDevResult> {
  const result: DeployDevResult = {env: options.env, mode: options.mode, binary: null, tfJsonPath: '', bundles: [], plan: null, applied: false, outputs: {}, dotenv: null}
  const binary = findIacBinary({pathVariable: options.environment.PATH, prefer: options.binary})
  result.binary = binary ?? null
  const wantsTerraform = options.mode !== 'synth'
  // Fail on missing input before building anything.
  const variables = wantsTerraform && binary ? terraformVariables(options.environment, options.settings) : {env: {}, secrets: []}

  let stackDir = ''
  let bundleDir = ''
  let stateDir: string | undefined
  const planFile = `engage-${options.env}.tfplan`
  const tf = (args: string[], okCodes?: number[]) =>
    runTerraform(binary!, args, {cwd: stackDir, env: variables.env, secrets: variables.secrets, okCodes})

  const synthStep: Step = {
    key: 'synth',
    title: 'Synthesize the Terraform JSON',
    run: async () => {
      const {synthStacks} = await import('../../stacks/main.js')
      const synth = synthStacks({env: options.env, baseDir: options.baseDir, settings: options.settings})
      stackDir = synth.stackDir
      bundleDir = resolve(options.baseDir, synth.config.bundleDir)
      if (synth.config.state.kind === 'local') stateDir = resolve(options.baseDir, synth.config.state.directory)
      result.tfJsonPath = synth.tfJsonPath
      return `Synthesized ${relative(options.baseDir, synth.tfJsonPath)}`
    },
  }

  if (!wantsTerraform || !binary) {
    await runSteps(hooks, [synthStep])
    if (!binary) {
      const install = 'Install OpenTofu (https://opentofu.org/docs/intro/install/) or Terraform ≥ 1.10 (https://developer.hashicorp.com/terraform/install) and put it on PATH.'
      if (!wantsTerraform) hooks.notice(`Neither ${options.binary ?? 'tofu nor terraform'} is on PATH: synthesized only. ${install}`)
      else {
        throw new NotFoundError(`Neither ${options.binary ?? 'tofu nor terraform'} is on PATH, so the stack cannot be planned or applied.`, {
          code: 'IAC_BINARY_MISSING',
          details: {tfJsonPath: result.tfJsonPath},
          suggestions: [install, `The synthesized stack is at ${relative(options.baseDir, result.tfJsonPath)}; --synth-only stops there.`],
        })
      }
    }
    return result
  }

  const buildStep: Step = options.skipBuild
    ? {
        key: 'bundles',
        title: 'Check the Lambda zips',
        run: async () => {
          const missing = LAMBDA_FUNCTIONS.map((spec) => bundleZipPath(bundleDir, spec.name)).filter((path) => !existsSync(path))
          if (missing.length > 0) {
            throw new NotFoundError(`Lambda zip${missing.length > 1 ? 's' : ''} missing: ${missing.map((path) => relative(options.baseDir, path)).join(', ')}`, {
              code: 'LAMBDA_BUNDLE_MISSING',
              suggestions: ['Run `engage lambda build` first, or drop --skip-build to build them now.'],
            })
          }
          return `Using the zips in ${relative(options.baseDir, bundleDir) || '.'}`
        },
      }
    : {
        key: 'bundles',
        title: 'Build the Lambda zips',
        run: async () => {
          const root = projectRoot()
          result.bundles = await buildLambdaBundles({
            rootDir: root,
            outDir: bundleDir,
            entries: LAMBDA_FUNCTIONS.map((spec) => ({name: spec.name, entry: entryPath(spec, root)})),
          })
          return `Built ${result.bundles.length} Lambda zips`
        },
      }

  try {
    return await planAndApply()
  } finally {
    // A saved plan holds the sensitive variables in clear text: it lives only as long as this run.
    if (stackDir) rmSync(join(stackDir, planFile), {force: true})
  }

  async function planAndApply(): Promise<DeployDevResult> {
    await runSteps(hooks, [
      synthStep,
      buildStep,
      {
        key: 'init',
        title: `${binary!.name} init`,
        run: async () => {
          // Local state holds the Lambdas' environment, secrets included: owner-only.
          if (stateDir) {
            mkdirSync(stateDir, {recursive: true, mode: 0o700})
            chmodSync(stateDir, 0o700)
          }
          await tf(['init', '-input=false', '-no-color'])
        },
      },
      {key: 'workspace', title: `Select workspace ${options.env}`, run: async () => void (await tf(['workspace', 'select', '-or-create', options.env]))},
      {
        key: 'plan',
        title: `${binary!.name} plan`,
        run: async () => {
          // -detailed-exitcode: 0 = no changes, 2 = changes, 1 = error.
          const plan = await tf(['plan', '-input=false', '-no-color', '-detailed-exitcode', `-out=${planFile}`], [2])
          result.plan = {planFile: join(stackDir, planFile), changes: plan.code === 2}
          hooks.showPlan(plan.stdout)
          return result.plan.changes ? 'Planned changes' : 'No changes: the infrastructure matches the stack'
        },
      },
    ])

    if (options.mode === 'plan') return result
    if (result.plan?.changes) {
      if (!(await hooks.confirm(`Apply this plan to the ${options.env} workspace?`))) {
        hooks.notice('Not applied; nothing was changed.')
        return result
      }
    }

    await runSteps(hooks, [
      {
        key: 'apply',
        title: `${binary!.name} apply`,
        run: async () => {
          if (!result.plan?.changes) return 'Nothing to apply (already up to date)'
          await tf(['apply', '-input=false', '-no-color', planFile])
          result.applied = true
          return 'Applied'
        },
      },
      {
        key: 'outputs',
        title: 'Read the stack outputs',
        run: async () => {
          result.outputs = parseOutputs((await tf(['output', '-json', '-no-color'])).stdout)
          return `Read ${Object.keys(result.outputs).length} outputs`
        },
      },
      {
        key: 'dotenv',
        title: `Write the outputs into ${relative(options.baseDir, options.dotenvPath) || options.dotenvPath}`,
        run: async () => {
          result.dotenv = updateDotenv(options.dotenvPath, result.outputs)
          const {added, updated} = result.dotenv
          return added.length + updated.length === 0 ? '.env already up to date' : `.env: ${added.length} added, ${updated.length} updated`
        },
      },
    ])
    return result
  }
}

/** Non-sensitive, non-empty string outputs with env-style names, from `terraform output -json`. */
export function parseOutputs(text: string): Record<string, string> {
  let parsed: Record<string, {value?: unknown; sensitive?: boolean}>
  try {
    parsed = JSON.parse(text) as typeof parsed
  } catch (error) {
    throw new ProviderError('terraform output -json did not print JSON', {code: 'IAC_OUTPUT_UNREADABLE', cause: error})
  }
  const outputs: Record<string, string> = {}
  for (const [name, output] of Object.entries(parsed)) {
    if (output.sensitive || typeof output.value !== 'string' || output.value === '' || !/^[A-Z][A-Z0-9_]*$/.test(name)) continue
    outputs[name] = output.value
  }
  return outputs
}

async function runSteps(hooks: DeployDevHooks, steps: Step[]): Promise<void> {
  const progress = await hooks.progress(steps)
  try {
    for (const step of steps) {
      progress.start(step.key)
      try {
        const title = await step.run()
        progress.end(step.key, {state: 'done', title: title || step.title})
      } catch (error) {
        progress.end(step.key, {state: 'failed', title: `${step.title}: failed`})
        throw error
      }
    }
  } finally {
    await progress.finish()
  }
}
