import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {join} from 'node:path'
import {afterAll, afterEach, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import {messagesQueueDefinition} from '../../src/queue/sqs/queue-definitions.js'
import {startFauxqs, type FauxqsServer} from '../support/fauxqs.js'
import {PROJECT_ROOT, runCli} from '../support/run-cli.js'

describe('engage deploy local (fauxqs)', () => {
  let server: FauxqsServer
  let work: string
  beforeAll(async () => {
    server = await startFauxqs()
  })
  afterAll(() => server.stop())
  beforeEach(() => {
    mkdirSync(join(PROJECT_ROOT, 'build'), {recursive: true})
    work = mkdtempSync(join(PROJECT_ROOT, 'build', 'test-deploy-local-'))
    writeFileSync(join(work, '.env'), '# local\nUSE_AWS_QUEUE=false\nSQS_QUEUE_URL=http://stale/queue\n')
  })
  afterEach(() => rmSync(work, {recursive: true, force: true}))

  const deploy = (args: string[], env: Record<string, string> = {}) => runCli(['deploy', 'local', ...args], {cwd: work, env})

  it('creates the queue and DLQ from the shared definition and writes their URLs into .env, leaving other keys alone', async () => {
    const definition = messagesQueueDefinition('t1')

    const result = await deploy(['--env', 't1', '--sqs-endpoint', server.endpoint, '--json'])

    expect(result.code, result.stderr).toBe(0)
    const json = JSON.parse(result.stdout) as {queues: {queueUrl: string; dlqUrl: string; dlqArn: string; created: string[]}}
    expect(json.queues.created.sort()).toEqual([definition.dlqName, definition.name].sort())
    const queue = await server.inspectQueue(definition.name)
    const dlq = await server.inspectQueue(definition.dlqName)
    expect(dlq?.arn).toBe(json.queues.dlqArn)
    expect(queue?.attributes).toMatchObject({
      VisibilityTimeout: String(definition.visibilityTimeoutSeconds),
      MessageRetentionPeriod: String(definition.messageRetentionSeconds),
    })
    expect(JSON.parse(queue!.attributes.RedrivePolicy!)).toMatchObject({deadLetterTargetArn: dlq!.arn})
    expect(Number(JSON.parse(queue!.attributes.RedrivePolicy!).maxReceiveCount)).toBe(definition.maxReceiveCount)
    expect(readFileSync(join(work, '.env'), 'utf8')).toBe(
      ['# local', 'USE_AWS_QUEUE=false', `SQS_QUEUE_URL=${json.queues.queueUrl}`, `SQS_DLQ_URL=${json.queues.dlqUrl}`, `SQS_ENDPOINT=${server.endpoint}`, ''].join('\n'),
    )
  })

  it('is idempotent: a second run finds the queues and leaves .env as it was', async () => {
    await deploy(['--env', 't2', '--sqs-endpoint', server.endpoint])
    const before = readFileSync(join(work, '.env'), 'utf8')

    const again = await deploy(['--env', 't2'], {SQS_ENDPOINT: server.endpoint})

    expect(again.code, again.stderr).toBe(0)
    expect(again.stderr).toContain('Queues already exist')
    expect(readFileSync(join(work, '.env'), 'utf8')).toBe(before)
  })

  it('refuses an endpoint that is not a URL', async () => {
    const result = await deploy(['--sqs-endpoint', 'localhost:9324'])

    expect(result.code).toBe(2)
    expect(result.stderr).toContain('DEPLOY_LOCAL_ENDPOINT_INVALID')
  })

  it('fails with a provider error and leaves .env untouched when nothing listens at the endpoint', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const {port: free} = probe.address() as {port: number}
        probe.close(() => resolve(free))
      })
    })
    const before = readFileSync(join(work, '.env'), 'utf8')

    const result = await deploy(['--sqs-endpoint', `http://127.0.0.1:${port}`])

    expect(result.code).toBe(6)
    expect(result.stderr).toContain('SQS_QUEUE_SETUP_FAILED')
    expect(readFileSync(join(work, '.env'), 'utf8')).toBe(before)
  })
})
