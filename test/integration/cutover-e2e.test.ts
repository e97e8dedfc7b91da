import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {parse} from 'dotenv'
import {describe, expect, it} from 'vitest'
import {DIALECTS} from '../support/databases.js'
import {startEngageDev, useDevWorkspace} from '../support/engage-dev.js'
import {runCli, type CliResult} from '../support/run-cli.js'

/**
 * The cutover as an operator runs it, end to end, with `engage dev` as the
 * local stack: migrate up; seed a sandbox tenant; deploy local; verify on the
 * local path; enable; verify on the SQS path; roll back. Every step is the
 * real CLI in its own process, and each one's exit code and output are
 * checked.
 */
describe.each(DIALECTS)('cutover end to end (%s)', (dialect) => {
  const workspace = useDevWorkspace(dialect, 'engage-cutover-e2e-')

  it('migrate up, seed, deploy local, verify (local), --enable, verify (SQS), --rollback', async () => {
    const env: Record<string, string> = {ENGAGE_OPERATOR: 'e2e-operator', ...(workspace.testDatabase ? {DATABASE_URL: workspace.testDatabase.url} : {})}
    const engage = async (...args: string[]): Promise<CliResult> => {
      const result = await runCli(args, {cwd: workspace.dir, env, timeoutMs: 180_000})
      expect(result.code, `engage ${args.join(' ')} exited ${result.code}:\n${result.stdout}\n${result.stderr.slice(-3000)}`).toBe(0)
      return result
    }
    const dev = (workspace.dev = await startEngageDev(workspace.dir, env))
    const dotenv = parse(readFileSync(join(workspace.dir, '.env')))

    const migrated = await engage('migrate', 'up')
    expect(migrated.stdout).toMatch(/Applied 0001-legacy-baseline/)

    const seeded = await engage('seed', 'twilio', '--tenant', 'demo', '--create-tenant', '--name', 'Demo',
      '--account-sid', 'AC00000000000000000000000000000001', '--messaging-service-sid', 'MG00000000000000000000000000000001',
      '--from', '+15005550006', '--channels', 'sms')
    expect(seeded.stdout).toMatch(/verified/i)
    expect(seeded.stdout + seeded.stderr).not.toContain(dotenv.TWILIO_AUTH_TOKEN!)

    const deployed = await engage('deploy', 'local', '--json')
    const queues = JSON.parse(deployed.stdout) as {queues: {queueUrl: string; dlqUrl?: string}}
    expect(queues.queues.queueUrl).toBe(dotenv.SQS_QUEUE_URL)

    const local = await engage('cutover', '--verify', '--to', '+15555550100')
    expect(local.stdout).toMatch(/\+15555550100\s+\d+ ms\s+\d+ ms\s+\d+ ms\s+–\s+\d+ ms\s+✓ ok/)
    expect(local.stdout).toMatch(/✓ All 1 smoke message\(s\) went through the local queue/)

    const enabled = await engage('cutover', '--enable', '--reason', 'e2e cutover', '--yes')
    expect(enabled.stdout).toMatch(/USE_AWS_QUEUE .*→ true\. New sends .* go through SQS \+ Lambda/)

    const sqs = await engage('cutover', '--verify', '--to', '+15555550101')
    expect(sqs.stdout).toMatch(/\+15555550101\s+\d+ ms\s+\d+ ms\s+\d+ ms\s+–\s+\d+ ms\s+✓ ok/)
    expect(sqs.stdout).toMatch(/✓ All 1 smoke message\(s\) went through SQS \(/)

    const rolledBack = await engage('cutover', '--rollback', '--reason', 'e2e rollback')
    expect(rolledBack.stdout).toMatch(/USE_AWS_QUEUE is off \(global true → false\)/)
    expect(rolledBack.stdout).toMatch(/0 visible, 0 in flight/)

    const status = JSON.parse((await engage('cutover', 'status', '--json')).stdout) as Record<string, any>
    expect(JSON.stringify(status)).toContain('e2e rollback')
    expect(JSON.stringify(status)).toContain('e2e-operator')

    dev.process.kill('SIGINT')
    expect(await dev.exit, dev.output().stderr.slice(-2000)).toBe(0)
  })
})
