import {execFile, spawnSync} from 'node:child_process'
import {createServer, type Server} from 'node:http'
import {existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {pathToFileURL} from 'node:url'
import {promisify} from 'node:util'
import {inflateRawSync} from 'node:zlib'
import {SQSClient} from '@aws-sdk/client-sqs'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Database} from '../../src/db/database.js'
import {buildAllLambdas} from '../../src/lambda/build-all.js'
import {LAMBDA_FUNCTIONS} from '../../src/lambda/functions.js'
import {toSqsEventRecord, type SqsEventRecord} from '../../src/queue/message-queue.js'
import {SqsQueue} from '../../src/queue/sqs/sqs-queue.js'
import {startTwilioSandbox, twilioSignature, type TwilioSandbox} from '../../src/twilio-sandbox/index.js'
import {verifyWebhook} from '../../src/webhooks/standard-webhooks.js'
import {synthStacks} from '../../stacks/main.js'
import {DIALECTS, type TestDatabase} from '../support/databases.js'
import {startFauxqs, type FauxqsServer} from '../support/fauxqs.js'
import {createCampaign, createContacts, createQueuedMessages, enqueueSendJobs, phoneNumbers, type MessageRow} from '../support/pipeline-fixtures.js'
import {PROJECT_ROOT, runCli} from '../support/run-cli.js'
import {migratedDatabase, newKey, parseJson, twilioSeed} from '../support/seed-fixtures.js'

/**
 * The zips `engage lambda build` ships, tested as Lambda runs them: each is
 * unpacked into a directory with no node_modules anywhere above it, and its
 * handler is imported in a fresh node process that gets only the
 * environment the synthesized stack gives that function (secrets filled in
 * as Terraform would), plus TWILIO_API_BASE_URL pointing at the sandbox.
 */

const ENV = 'artifacts'
const WEBHOOK_BASE_URL = 'https://hooks.example.com'
const WEBHOOK_PATH = '/webhooks/twilio'
const BACKEND_SECRET = 'whsec_dGVzdC1vbmx5LXNlY3JldC1mb3ItYXJ0aWZhY3Rz'

/** The backend's side of the status webhook: a real server that accepts only verified deliveries and records their ids. */
async function startBackendReceiver(): Promise<{url: string; ids: string[]; rejected: number; close(): Promise<void>}> {
  const received = {ids: [] as string[], rejected: 0}
  const server: Server = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk: Buffer) => (body += chunk.toString()))
    req.on('end', () => {
      const verified = verifyWebhook(req.headers, body, BACKEND_SECRET)
      if (!verified.ok) received.rejected++
      else received.ids.push(verified.id)
      res.writeHead(verified.ok ? 204 : 401).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as {port: number}
  return Object.assign(received, {
    url: `http://127.0.0.1:${port}/internal/message-status`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  })
}

// Plays the Lambda runtime: one warm container, the handler invoked once per event, responses printed as JSON.
const RUNTIME = `
const {handler} = await import(process.argv[1])
const events = JSON.parse(process.argv[2])
const responses = []
for (const event of events) {
  try { responses.push({ok: await handler(event)}) } catch (error) { responses.push({error: String(error && error.message)}) }
}
process.stdout.write(JSON.stringify(responses))
process.exit(0)
`

type Invocation<T> = {ok?: T; error?: string}

/** Extracts every file of a zip (stored or deflated entries, as our writer and Info-ZIP write them). */
function extractZip(zipPath: string, into: string): string[] {
  mkdirSync(into, {recursive: true})
  if (spawnSync('unzip', ['-v'], {stdio: 'ignore'}).status === 0) {
    const listed = spawnSync('unzip', ['-Z1', zipPath], {encoding: 'utf8'})
    const result = spawnSync('unzip', ['-q', '-o', zipPath, '-d', into], {encoding: 'utf8'})
    if (result.status !== 0) throw new Error(`unzip failed: ${result.stderr}`)
    return listed.stdout.trim().split('\n')
  }
  const zip = readFileSync(zipPath)
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]))
  let offset = zip.readUInt32LE(end + 16)
  const names: string[] = []
  for (let index = 0; index < zip.readUInt16LE(end + 10); index++) {
    const method = zip.readUInt16LE(offset + 10)
    const compressedSize = zip.readUInt32LE(offset + 20)
    const nameLength = zip.readUInt16LE(offset + 28)
    const entryLength = 46 + nameLength + zip.readUInt16LE(offset + 30) + zip.readUInt16LE(offset + 32)
    const name = zip.toString('utf8', offset + 46, offset + 46 + nameLength)
    const local = zip.readUInt32LE(offset + 42)
    const dataStart = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28)
    const data = zip.subarray(dataStart, dataStart + compressedSize)
    mkdirSync(dirname(join(into, name)), {recursive: true})
    writeFileSync(join(into, name), method === 8 ? inflateRawSync(data) : data)
    names.push(name)
    offset += entryLength
  }
  return names
}

/** Every node_modules directory a module in `directory` could resolve packages from. */
function reachableNodeModules(directory: string): string[] {
  const found: string[] = []
  for (let current = directory; ; current = dirname(current)) {
    if (existsSync(join(current, 'node_modules'))) found.push(join(current, 'node_modules'))
    if (dirname(current) === current) return found
  }
}

/** Runs one unpacked handler in its own node process (asynchronously: the sandbox it calls lives in this one). */
async function invoke<T>(runDir: string, events: unknown[], env: Record<string, string>): Promise<Invocation<T>[]> {
  const {stdout} = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', RUNTIME, pathToFileURL(join(runDir, 'index.mjs')).href, JSON.stringify(events)], {
    env: {PATH: process.env.PATH ?? '', ...env},
    cwd: runDir,
    encoding: 'utf8',
    timeout: 90_000,
  })
  return JSON.parse(stdout) as Invocation<T>[]
}

interface TerraformJson {
  resource: {aws_lambda_function: Record<string, {function_name: string; environment: {variables: Record<string, string>}}>}
}

/**
 * The environment the stack gives a function, with Terraform's job done by
 * hand: `${var.x}` replaced by `values[x]`, the webhook base URL expression
 * by the public URL Twilio is told to call. Anything else unresolved fails.
 */
function stackEnvironment(tf: TerraformJson, functionName: string, values: Record<string, string>): Record<string, string> {
  const fn = Object.values(tf.resource.aws_lambda_function).find((candidate) => candidate.function_name === `engageninja-${functionName}-${ENV}`)
  if (!fn) throw new Error(`no aws_lambda_function for ${functionName}`)
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(fn.environment.variables)) {
    const variable = /^\$\{var\.([a-z_]+)\}$/.exec(value)?.[1]
    if (variable) {
      if (values[variable] === undefined) throw new Error(`no test value for var.${variable}`)
      env[name] = values[variable]!
    } else if (name === 'WEBHOOK_BASE_URL') env[name] = WEBHOOK_BASE_URL
    else if (value.includes('${')) throw new Error(`unresolved expression in ${functionName}'s ${name}`)
    else env[name] = value
  }
  return env
}

describe('the shipped Lambda zips', () => {
  let work: string
  let tf: TerraformJson
  const runDirs: Record<string, string> = {}
  const zipFiles: Record<string, string[]> = {}
  let cliHashes: Record<string, string> = {}

  beforeAll(async () => {
    // Unpacked outside the repository: the only code a handler can load is what its zip holds.
    work = mkdtempSync(join(tmpdir(), 'engage-artifacts-'))
    const built = await runCli(['lambda', 'build', '--out-dir', join(work, 'zips'), '--json'], {timeoutMs: 180_000})
    if (built.code !== 0) throw new Error(`engage lambda build failed (${built.code}): ${built.stderr}`)
    const {bundles} = parseJson<{bundles: Array<{name: string; zipPath: string; sha256: string}>}>(built)
    cliHashes = Object.fromEntries(bundles.map((bundle) => [bundle.name, bundle.sha256]))
    for (const bundle of bundles) {
      runDirs[bundle.name] = join(work, 'run', bundle.name)
      zipFiles[bundle.name] = extractZip(bundle.zipPath, runDirs[bundle.name]!)
    }
    tf = JSON.parse(readFileSync(synthStacks({env: ENV, baseDir: join(work, 'stack')}).tfJsonPath, 'utf8')) as TerraformJson
  }, 240_000)
  afterAll(() => rmSync(work, {recursive: true, force: true}))

  it('builds one zip per function, each with index.mjs, unpacked where no node_modules is reachable', () => {
    expect(Object.keys(runDirs).sort()).toEqual(LAMBDA_FUNCTIONS.map((spec) => spec.name).sort())
    for (const [name, files] of Object.entries(zipFiles)) {
      expect(files, name).toContain('index.mjs')
      expect(files.every((file) => file.endsWith('.mjs')), `${name}: ${files.join(', ')}`).toBe(true)
      expect(reachableNodeModules(runDirs[name]!)).toEqual([])
    }
  })

  it('rebuilds to byte-identical zips, chunks included', async () => {
    const again = await buildAllLambdas({outDir: join(work, 'zips-again')})

    expect(Object.fromEntries(again.bundles.map((bundle) => [bundle.name, bundle.sha256]))).toEqual(cliHashes)
    for (const bundle of again.bundles) expect(readFileSync(bundle.zipPath).equals(readFileSync(join(work, 'zips', `${bundle.name}.zip`))), bundle.name).toBe(true)
  }, 120_000)

  describe.each(DIALECTS)('over %s', (dialect) => {
    let testDatabase: TestDatabase
    let database: Database
    let sandbox: TwilioSandbox
    let fauxqs: FauxqsServer
    let sqsClient: SQSClient
    let queue: SqsQueue
    let queueArn: string
    let messages: MessageRow[]
    const key = newKey()
    const twilio = twilioSeed()
    let backend: Awaited<ReturnType<typeof startBackendReceiver>>
    const envFor = (name: string) =>
      stackEnvironment(tf, name, {
        database_url: testDatabase.url,
        encryption_key: key.hex,
        backend_status_webhook_url: backend.url,
        backend_status_webhook_secret: BACKEND_SECRET,
      })
    // Test-only: the sandbox instead of api.twilio.com; quiet logs.
    const localEnv = (name: string) => ({...envFor(name), TWILIO_API_BASE_URL: sandbox.url, LOG_LEVEL: 'error'})

    beforeAll(async () => {
      ;[testDatabase, sandbox, fauxqs, backend] = await Promise.all([
        migratedDatabase(dialect),
        // Callbacks held back: the test delivers them itself, to the webhook handler.
        startTwilioSandbox({seed: twilio.seed, behaviour: {callbacks: {lateByMs: 600_000, maxAttempts: 1}}}),
        startFauxqs(),
        startBackendReceiver(),
      ])
      database = await testDatabase.open()
      if (dialect === 'sqlite') return

      // The queues as `engage deploy local` creates them from the stack's queue definition.
      const deployed = await runCli(['deploy', 'local', '--env', ENV, '--sqs-endpoint', fauxqs.endpoint, '--dotenv-file', join(work, `${dialect}.env`), '--json'])
      if (deployed.code !== 0) throw new Error(`deploy local failed: ${deployed.stderr}`)
      const queueUrl = parseJson<{queues: {queueUrl: string}}>(deployed).queues.queueUrl
      queueArn = (await fauxqs.inspectQueue(`engageninja-messages-${ENV}`))!.arn
      sqsClient = new SQSClient(fauxqs.clientConfig)
      queue = new SqsQueue({client: sqsClient, queueUrl})

      const seeded = await runCli(
        ['seed', 'twilio', '--database-url', testDatabase.url, '--tenant', 'acme', '--create-tenant', '--name', 'Acme Ltd', '--account-sid', twilio.accountSid, '--messaging-service-sid', twilio.serviceSid, '--from', '+15005550006'],
        {env: {ENCRYPTION_KEY: key.hex, TWILIO_API_BASE_URL: sandbox.url, TWILIO_AUTH_TOKEN: twilio.authToken, WEBHOOK_BASE_URL}},
      )
      if (seeded.code !== 0) throw new Error(`seed twilio failed: ${seeded.stderr}`)
      const tenant = await database.db.selectFrom('tenants').select('id').where('slug', '=', 'acme').executeTakeFirstOrThrow()
      const campaign = await createCampaign(database, {tenantId: String(tenant.id), channel: 'sms', body: 'Shipped from the zip'})
      messages = await createQueuedMessages(database, campaign, await createContacts(database, String(tenant.id), phoneNumbers(5, 7000).map((phone) => ({phone}))))
      await enqueueSendJobs(queue, messages)
    }, 120_000)
    afterAll(async () => {
      sqsClient?.destroy()
      await Promise.allSettled([sandbox?.stop(), fauxqs?.stop(), backend?.close()])
      await testDatabase?.dispose()
    })

    const statusOf = async (id: string) => (await database.db.selectFrom('messages').select('status').where('id', '=', id).executeTakeFirstOrThrow()).status

    it.runIf(dialect === 'sqlite')('every handler refuses a SQLite DATABASE_URL, saying to use PostgreSQL', async () => {
      for (const name of Object.keys(runDirs)) {
        const [response] = await invoke(runDirs[name]!, [{}], localEnv(name))

        expect(response?.error, name).toMatch(/names SQLite .* which a bundled Lambda cannot open; use a postgres:\/\/ URL/)
      }
    })

    it.runIf(dialect === 'postgres')('SendCampaignMessage sends an SQS batch received from the queue, each message once, also when the batch comes again', async () => {
      const records: SqsEventRecord[] = []
      for (let round = 0; round < 10 && records.length < messages.length; round++) {
        records.push(...(await queue.receive({max: 10, waitSeconds: 1})).map((received) => toSqsEventRecord(received, {queueArn, awsRegion: fauxqs.region})))
      }
      expect(records).toHaveLength(5)

      // PG_POOL_MAX from the stack (2) is below the batch size: the pool is shared, never exceeded.
      const [first, again] = await invoke<{batchItemFailures: unknown[]}>(runDirs['send-campaign-message']!, [{Records: records}, {Records: records}], localEnv('send-campaign-message'))

      expect(envFor('send-campaign-message').PG_POOL_MAX).toBe('2')
      expect(first).toEqual({ok: {batchItemFailures: []}})
      expect(again).toEqual({ok: {batchItemFailures: []}})
      const counters = await sandbox.counters()
      expect(counters.byRecipient.map((entry) => [entry.to, entry.accepted, entry.attempts]).sort()).toEqual(messages.map((message) => [message.to_address, 1, 1]).sort())
      expect(counters.byStatusCallback.map((entry) => entry.statusCallback)).toEqual([`${WEBHOOK_BASE_URL}${WEBHOOK_PATH}`])
      for (const message of messages) expect(await statusOf(message.id)).toBe('sent')
    })

    it.runIf(dialect === 'postgres')('the Twilio webhook accepts a callback signed with the tenant token (200, status written) and refuses a forged one (403)', async () => {
      const rows = await database.db.selectFrom('messages').select(['id', 'provider_message_id']).orderBy('id').execute()
      const callback = (messageSid: string) => ({AccountSid: twilio.accountSid, MessageSid: messageSid, MessageStatus: 'delivered', SmsSid: messageSid, SmsStatus: 'delivered'})
      const event = (params: Record<string, string>, signature: string) => ({
        version: '2.0',
        routeKey: `POST ${WEBHOOK_PATH}`,
        rawPath: WEBHOOK_PATH,
        rawQueryString: '',
        headers: {'content-type': 'application/x-www-form-urlencoded', host: 'abc123.execute-api.us-east-1.amazonaws.com', 'x-twilio-signature': signature},
        requestContext: {requestId: `r-${params.MessageSid}`, timeEpoch: Date.now(), http: {method: 'POST', path: WEBHOOK_PATH, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'TwilioProxy/1.1'}},
        body: Buffer.from(new URLSearchParams(params).toString()).toString('base64'),
        isBase64Encoded: true,
      })
      const genuine = callback(String(rows[0]!.provider_message_id))
      const forged = callback(String(rows[1]!.provider_message_id))

      const [accepted, refused] = await invoke<{statusCode: number}>(
        runDirs['twilio-webhook']!,
        [
          event(genuine, twilioSignature(twilio.authToken, `${WEBHOOK_BASE_URL}${WEBHOOK_PATH}`, genuine)),
          event(forged, twilioSignature(twilio.suspendedToken, `${WEBHOOK_BASE_URL}${WEBHOOK_PATH}`, forged)),
        ],
        localEnv('twilio-webhook'),
      )

      expect(accepted?.ok?.statusCode).toBe(200)
      expect(refused?.ok?.statusCode).toBe(403)
      expect(await statusOf(String(rows[0]!.id))).toBe('delivered')
      expect(await statusOf(String(rows[1]!.id))).toBe('sent')
    })

    it.runIf(dialect === 'postgres')('UpdateMessageStatus runs on a scheduled EventBridge event and reconciles the stale messages from Twilio', async () => {
      const stillSent = (await database.db.selectFrom('messages').select('id').where('status', '=', 'sent').execute()).map((row) => String(row.id))
      // The sandbox has moved every message to delivered by now; only the callbacks were held back.
      for (let attempt = 0; attempt < 50; attempt++) {
        if ((await sandbox.messages()).every((message) => message.status === 'delivered')) break
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      const scheduled = {
        version: '0',
        id: 'b5e4c3d2-0000-4000-8000-000000000001',
        'detail-type': 'Scheduled Event',
        source: 'aws.events',
        account: '123456789012',
        time: new Date().toISOString(),
        region: 'us-east-1',
        resources: [`arn:aws:events:us-east-1:123456789012:rule/engageninja-update-message-status-${ENV}`],
        detail: {},
      }

      // STATUS_STALE_AFTER_MS: test-only, so messages sent a moment ago count as stale.
      const [tick] = await invoke<Record<string, unknown>>(runDirs['update-message-status']!, [scheduled], {...localEnv('update-message-status'), STATUS_STALE_AFTER_MS: '1'})

      expect(stillSent).toHaveLength(4)
      const applied = await database.db.selectFrom('message_status_events').select('id').where('applied', '=', 1).execute()
      expect(tick?.error).toBeUndefined()
      expect(tick?.ok).toEqual({advanced: 0, reconciled: 4, errors: 0, checked: 4, forwarded: {delivered: applied.length, failed: 0, pending: 0}})
      for (const id of stillSent) expect(await statusOf(id)).toBe('delivered')
      // Every applied status, the sender's, the webhook's and this run's, reached the backend once, verified.
      expect(backend.rejected).toBe(0)
      expect(backend.ids.sort()).toEqual(applied.map((row) => `msgstatus_${row.id}`).sort())
    })
  })
})
