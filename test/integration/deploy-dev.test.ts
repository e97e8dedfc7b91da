import {execFile, execFileSync} from 'node:child_process'
import {chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {afterEach, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import {buildLambdaBundles} from '../../src/lambda/bundle.js'
import {LAMBDA_FUNCTIONS} from '../../src/lambda/functions.js'
import {PROJECT_ROOT, runCli} from '../support/run-cli.js'

// Sentinels standing in for secrets: none may show up in the JSON, argv, stdout or stderr.
const SECRETS = {
  DATABASE_URL: 'postgres://engage:sentinel-db-pass-7741@db.internal:5432/engage',
  ENCRYPTION_KEY: 'sentinel-encryption-key-5f2c9a0b',
  BACKEND_STATUS_WEBHOOK_SECRET: 'sentinel-webhook-secret-31d8e2',
}
const SETTINGS = {
  ...SECRETS,
  BACKEND_STATUS_WEBHOOK_URL: 'https://backend.example.com/status',
  TWILIO_MESSAGING_SERVICE_SID: 'MG0123456789abcdef0123456789abcdef',
  LAMBDA_VPC_ID: 'vpc-0abc',
  LAMBDA_SUBNET_IDS: 'subnet-1, subnet-2',
  DATABASE_SECURITY_GROUP_ID: 'sg-0db',
  SES_IDENTITY_ARNS: 'arn:aws:ses:us-east-1:123456789012:identity/example.com',
}
const OUTPUTS = {
  SQS_QUEUE_URL: {value: 'https://sqs.us-east-1.amazonaws.com/123456789012/engageninja-messages-dev', type: 'string', sensitive: false},
  SQS_DLQ_URL: {value: 'https://sqs.us-east-1.amazonaws.com/123456789012/engageninja-messages-dev-dlq', type: 'string', sensitive: false},
  TWILIO_MESSAGING_SERVICE_SID: {value: SETTINGS.TWILIO_MESSAGING_SERVICE_SID, type: 'string', sensitive: false},
  WEBHOOK_BASE_URL: {value: 'https://abc123.execute-api.us-east-1.amazonaws.com', type: 'string', sensitive: false},
}

/**
 * Stands in for terraform (the real binary cannot reach the registry here):
 * logs `cwd|argv` per call, creates the -out plan file, exits 2 from plan
 * (changes) unless FAKE_TF_PLAN_EXIT says otherwise, prints outputs.json for
 * `output -json`, and keeps the TF_VAR_encryption_key it was given.
 */
const FAKE_TERRAFORM = `#!/bin/sh
printf '%s|%s\\n' "$(pwd)" "$*" >> "$FAKE_TF_DIR/calls.log"
case "$1" in
  plan)
    printf '%s' "$TF_VAR_encryption_key" > "$FAKE_TF_DIR/seen-encryption-key"
    printf '%s' "$TF_VAR_subnet_ids" > "$FAKE_TF_DIR/seen-subnet-ids"
    if [ -n "$FAKE_TF_PLAN_FAIL" ]; then echo "Error: invalid value $TF_VAR_database_url for database_url" >&2; exit 1; fi
    for arg in "$@"; do case "$arg" in -out=*) : > "\${arg#-out=}";; esac; done
    echo "Plan: 27 to add, 0 to change, 0 to destroy."
    exit \${FAKE_TF_PLAN_EXIT:-2};;
  output) cat "$FAKE_TF_DIR/outputs.json";;
esac
exit 0
`

describe('engage deploy dev', () => {
  let work: string
  let fakeBin: string
  let bundleDir: string
  const calls = () => (existsSync(join(fakeBin, 'calls.log')) ? readFileSync(join(fakeBin, 'calls.log'), 'utf8').trim().split('\n') : [])
  const stackDir = () => join(work, 'build', 'cdktf', 'stacks', 'messaging')
  const run = (args: string[], env: Record<string, string> = {}, path = `${fakeBin}:/usr/bin:/bin`) =>
    runCli(['deploy', 'dev', ...args], {cwd: work, env: {PATH: path, FAKE_TF_DIR: fakeBin, ...SETTINGS, ...env}})

  beforeAll(async () => {
    // Real zips from a fixture handler (the real handlers are a later issue), reused by --skip-build runs.
    mkdirSync(join(PROJECT_ROOT, 'build'), {recursive: true})
    bundleDir = mkdtempSync(join(PROJECT_ROOT, 'build', 'test-deploy-zips-'))
    writeFileSync(join(bundleDir, 'handler.ts'), 'export const handler = async () => ({ok: true})\n')
    await buildLambdaBundles({rootDir: bundleDir, outDir: join(bundleDir, 'zips'), entries: LAMBDA_FUNCTIONS.map((spec) => ({name: spec.name, entry: 'handler.ts'}))})
    return () => rmSync(bundleDir, {recursive: true, force: true})
  })

  beforeEach(() => {
    // Inside the project so ENGAGE_TEST_BIN=dev's `node --import tsx` resolves tsx from the cwd.
    work = mkdtempSync(join(PROJECT_ROOT, 'build', 'test-deploy-'))
    fakeBin = join(work, 'fake-bin')
    mkdirSync(fakeBin)
    writeFileSync(join(fakeBin, 'terraform'), FAKE_TERRAFORM)
    chmodSync(join(fakeBin, 'terraform'), 0o755)
    writeFileSync(join(fakeBin, 'outputs.json'), JSON.stringify({...OUTPUTS, internal_secret: {value: 'x', type: 'string', sensitive: true}}))
    writeFileSync(join(work, '.env'), '# operator settings\nDATABASE_URL_LOCAL=sqlite:./engage.db\nSQS_QUEUE_URL=http://127.0.0.1:9324/old\nUSE_AWS_QUEUE=false\n')
  })
  afterEach(() => rmSync(work, {recursive: true, force: true}))

  const copyZips = () => {
    mkdirSync(join(work, 'build', 'lambda'), {recursive: true})
    for (const spec of LAMBDA_FUNCTIONS) writeFileSync(join(work, 'build', 'lambda', `${spec.name}.zip`), readFileSync(join(bundleDir, 'zips', `${spec.name}.zip`)))
  }
  const assertNoSecrets = (...texts: string[]) => {
    for (const text of texts) for (const secret of Object.values(SECRETS)) expect(text.includes(secret), 'a secret value leaked').toBe(false)
  }

  it('--yes runs init, workspace, plan, apply of the saved plan and output, then writes the outputs into .env', async () => {
    copyZips()

    const result = await run(['--yes', '--skip-build', '--json'])

    expect(result.code, result.stderr).toBe(0)
    expect(calls()).toEqual([
      `${stackDir()}|init -input=false -no-color`,
      `${stackDir()}|workspace select -or-create dev`,
      `${stackDir()}|plan -input=false -no-color -detailed-exitcode -out=engage-dev.tfplan`,
      `${stackDir()}|apply -input=false -no-color engage-dev.tfplan`,
      `${stackDir()}|output -json -no-color`,
    ])
    expect(readFileSync(join(work, '.env'), 'utf8')).toBe(
      [
        '# operator settings',
        'DATABASE_URL_LOCAL=sqlite:./engage.db',
        `SQS_QUEUE_URL=${OUTPUTS.SQS_QUEUE_URL.value}`,
        'USE_AWS_QUEUE=false',
        `SQS_DLQ_URL=${OUTPUTS.SQS_DLQ_URL.value}`,
        `TWILIO_MESSAGING_SERVICE_SID=${OUTPUTS.TWILIO_MESSAGING_SERVICE_SID.value}`,
        `WEBHOOK_BASE_URL=${OUTPUTS.WEBHOOK_BASE_URL.value}`,
        '',
      ].join('\n'),
    )
    expect(statSync(join(work, '.env')).mode & 0o777).toBe(0o600)
    // The saved plan (secrets in clear) is gone; the local state directory is owner-only.
    expect(existsSync(join(stackDir(), 'engage-dev.tfplan'))).toBe(false)
    expect(statSync(join(work, '.engage', 'terraform-state')).mode & 0o777).toBe(0o700)
    const json = JSON.parse(result.stdout) as {applied: boolean; outputs: Record<string, string>; dotenv: {added: string[]; updated: string[]}}
    expect(json).toMatchObject({applied: true, dotenv: {added: ['SQS_DLQ_URL', 'TWILIO_MESSAGING_SERVICE_SID', 'WEBHOOK_BASE_URL'], updated: ['SQS_QUEUE_URL']}})
    expect(json.outputs).not.toHaveProperty('internal_secret')
    // Secrets reached terraform through its environment, lists as JSON, and nowhere else.
    expect(readFileSync(join(fakeBin, 'seen-encryption-key'), 'utf8')).toBe(SECRETS.ENCRYPTION_KEY)
    expect(readFileSync(join(fakeBin, 'seen-subnet-ids'), 'utf8')).toBe('["subnet-1","subnet-2"]')
    assertNoSecrets(calls().join('\n'), result.stdout, result.stderr, readFileSync(join(stackDir(), 'cdk.tf.json'), 'utf8'))
  })

  it('--plan stops after the plan and writes nothing to .env', async () => {
    copyZips()
    const before = readFileSync(join(work, '.env'), 'utf8')

    const result = await run(['--plan', '--skip-build'])

    expect(result.code, result.stderr).toBe(0)
    expect(calls().map((line) => line.split('|')[1]!.split(' ')[0])).toEqual(['init', 'workspace', 'plan'])
    expect(result.stderr).toContain('Plan: 27 to add')
    expect(readFileSync(join(work, '.env'), 'utf8')).toBe(before)
  })

  it('does not apply when the plan has no changes, and still refreshes .env from the outputs', async () => {
    copyZips()

    const result = await run(['--yes', '--skip-build'], {FAKE_TF_PLAN_EXIT: '0'})

    expect(result.code, result.stderr).toBe(0)
    expect(calls().map((line) => line.split('|')[1]!.split(' ')[0])).toEqual(['init', 'workspace', 'plan', 'output'])
    expect(readFileSync(join(work, '.env'), 'utf8')).toContain(`WEBHOOK_BASE_URL=${OUTPUTS.WEBHOOK_BASE_URL.value}`)
  })

  it('without a terminal and without --yes fails naming --yes before running anything', async () => {
    const result = await run(['--skip-build'])

    expect(result.code).toBe(2)
    expect(result.stderr).toContain('CONFIRMATION_REQUIRED')
    expect(result.stderr).toContain('--yes')
    expect(calls()).toEqual([])
    expect(existsSync(join(work, 'build', 'cdktf'))).toBe(false)
  })

  it('names missing settings (never values) before running terraform', async () => {
    const result = await runCli(['deploy', 'dev', '--yes', '--skip-build'], {cwd: work, env: {PATH: `${fakeBin}:/usr/bin:/bin`, FAKE_TF_DIR: fakeBin, ENCRYPTION_KEY: SECRETS.ENCRYPTION_KEY}})

    expect(result.code).toBe(2)
    expect(result.stderr).toContain('DEPLOY_VARIABLES_MISSING')
    expect(result.stderr).toContain('DATABASE_URL (or TF_VAR_database_url)')
    expect(result.stderr).toContain('SES_IDENTITY_ARNS')
    expect(result.stderr).not.toContain('ENCRYPTION_KEY (or')
    assertNoSecrets(result.stderr)
    expect(calls()).toEqual([])
  })

  it('masks secrets in terraform errors it reports', async () => {
    copyZips()

    const result = await run(['--yes', '--skip-build'], {FAKE_TF_PLAN_FAIL: '1'})

    expect(result.code).toBe(6)
    expect(result.stderr).toContain('IAC_COMMAND_FAILED')
    expect(result.stderr).toContain('Error: invalid value *** for database_url')
    assertNoSecrets(result.stdout, result.stderr)
  })

  it('--skip-build fails naming the missing zips before init', async () => {
    const result = await run(['--yes', '--skip-build'])

    expect(result.code).toBe(7)
    expect(result.stderr).toContain('LAMBDA_BUNDLE_MISSING')
    expect(result.stderr).toContain('build/lambda/send-campaign-message.zip')
    expect(calls()).toEqual([])
  })

  it('--yes without --skip-build builds the three real zips first, then runs init, plan and apply', async () => {
    const result = await run(['--yes', '--json'])

    expect(result.code, result.stderr).toBe(0)
    expect(calls().map((line) => line.split('|')[1]!.split(' ')[0])).toEqual(['init', 'workspace', 'plan', 'apply', 'output'])
    const json = JSON.parse(result.stdout) as {bundles: Array<{name: string; zipPath: string; bytes: number}>}
    expect(json.bundles.map((bundle) => bundle.name).sort()).toEqual(LAMBDA_FUNCTIONS.map((spec) => spec.name).sort())
    for (const spec of LAMBDA_FUNCTIONS) {
      const zip = join(work, 'build', 'lambda', `${spec.name}.zip`)
      expect(statSync(zip).size).toBe(json.bundles.find((bundle) => bundle.name === spec.name)!.bytes)
    }
    // Terraform finds the zips where the synthesized stack says they are.
    const tfJson = JSON.parse(readFileSync(join(stackDir(), 'cdk.tf.json'), 'utf8')) as {resource: {aws_lambda_function: Record<string, {filename: string}>}}
    for (const fn of Object.values(tfJson.resource.aws_lambda_function)) expect(existsSync(join(stackDir(), fn.filename)), fn.filename).toBe(true)
  }, 180_000)

  describe('with neither terraform nor tofu on PATH', () => {
    it('--synth-only synthesizes, without bundles, and exits 0', async () => {
      const result = await run(['--synth-only'], {}, '/usr/bin:/bin')

      expect(result.code, result.stderr).toBe(0)
      expect(result.stdout.trim()).toBe(join(stackDir(), 'cdk.tf.json'))
      expect(result.stderr).toContain('Neither tofu nor terraform is on PATH')
      const json = readFileSync(join(stackDir(), 'cdk.tf.json'), 'utf8')
      expect(JSON.parse(json).resource.aws_sqs_queue).toBeDefined()
      assertNoSecrets(json, result.stdout, result.stderr)
      expect(existsSync(join(work, 'build', 'lambda'))).toBe(false)
    })

    it('without --yes and without a terminal it still says what to install, not what flag to pass', async () => {
      const result = await run([], {}, '/usr/bin:/bin')

      expect(result.code).toBe(7)
      expect(result.stderr).toContain('IAC_BINARY_MISSING')
      expect(result.stderr).not.toContain('CONFIRMATION_REQUIRED')
      expect(result.stderr).toMatch(/Install OpenTofu .* or Terraform/)
    })

    it('a full deploy synthesizes, says what to install and exits non-zero', async () => {
      const result = await run(['--yes'], {}, '/usr/bin:/bin')

      expect(result.code).toBe(7)
      expect(result.stderr).toContain('IAC_BINARY_MISSING')
      expect(result.stderr).toMatch(/Install OpenTofu .* or Terraform/)
      expect(existsSync(join(stackDir(), 'cdk.tf.json'))).toBe(true)
    })
  })
})

/**
 * A new user's first run: a fresh `git clone` of the committed tree (no
 * build/, no dist/, no .env, no oclif manifest), dependencies installed,
 * and neither terraform nor tofu on PATH.
 */
describe('engage deploy dev in a fresh clone without terraform or tofu', () => {
  let clone: string
  beforeAll(() => {
    clone = join(mkdtempSync(join(tmpdir(), 'engage-fresh-clone-')), 'engage')
    execFileSync('git', ['clone', '--quiet', PROJECT_ROOT, clone])
    // Stands in for `npm ci`: the same installed packages, not copied.
    symlinkSync(join(PROJECT_ROOT, 'node_modules'), join(clone, 'node_modules'))
    return () => rmSync(dirname(clone), {recursive: true, force: true})
  })
  const engage = (args: string[]) =>
    new Promise<{code: number | null; stdout: string; stderr: string}>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', join(clone, 'bin', 'dev.js'), ...args], {cwd: clone, env: {PATH: '/usr/bin:/bin', HOME: clone, ...SETTINGS}, timeout: 120_000}, (error, stdout, stderr) =>
        resolve({code: error ? ((error as {code?: number}).code ?? 1) : 0, stdout, stderr}),
      )
    })

  it('--synth-only writes the Terraform JSON and exits 0', async () => {
    expect(['terraform', 'tofu'].some((name) => existsSync(join('/usr/bin', name)) || existsSync(join('/bin', name)))).toBe(false)

    const result = await engage(['deploy', 'dev', '--synth-only'])

    expect(result.code, result.stderr).toBe(0)
    const tfJsonPath = join(clone, 'build', 'cdktf', 'stacks', 'messaging', 'cdk.tf.json')
    expect(result.stdout.trim()).toBe(tfJsonPath)
    const json = readFileSync(tfJsonPath, 'utf8')
    expect(Object.keys(JSON.parse(json).resource).sort()).toEqual(expect.arrayContaining(['aws_lambda_function', 'aws_sqs_queue', 'aws_apigatewayv2_route', 'aws_cloudwatch_event_rule']))
    for (const secret of Object.values(SECRETS)) expect(json.includes(secret), 'a secret value leaked').toBe(false)
  }, 150_000)

  it('a deploy explains that terraform or tofu is missing and exits non-zero', async () => {
    const result = await engage(['deploy', 'dev'])

    expect(result.code).toBe(7)
    expect(result.stderr).toContain('Neither tofu nor terraform is on PATH')
    expect(result.stderr).toMatch(/Install OpenTofu .* or Terraform/)
  }, 150_000)
})
