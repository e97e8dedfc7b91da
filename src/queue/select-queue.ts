import {readUseAwsQueue, type FlagReading} from '../cutover/flags.js'
import type {Database} from '../db/database.js'
import {UsageError} from '../errors/engage-error.js'
import {LocalQueue, type LocalQueueOptions} from './local/local-queue.js'
import type {MessageQueue, QueueSource} from './message-queue.js'
import {createSqsClient, SqsQueue} from './sqs/sqs-queue.js'

/** Where settings come from: the environment view (`Settings`) or, later, the cutover flag stored in the database layered over it. */
export interface SettingsReader {
  get(name: string): string | undefined
}

export type QueueKind = 'local' | 'sqs'

const ON = ['true', '1', 'yes', 'on']
const OFF = ['false', '0', 'no', 'off']
const DEFAULT_REGION = 'us-east-1'

/**
 * Which queue sends go through: 'sqs' when USE_AWS_QUEUE is on (true, 1,
 * yes, on), 'local' when it is off or unset. A value that is neither is a
 * UsageError rather than a silent default, because a typo here would send a
 * production campaign through a queue nobody consumes. Pure, so a cutover
 * flag from the database can be layered into `settings` by the caller.
 */
export function queueKindFor(settings: SettingsReader): QueueKind {
  const raw = settings.get('USE_AWS_QUEUE')?.trim().toLowerCase()
  if (raw === undefined || raw === '' || OFF.includes(raw)) return 'local'
  if (ON.includes(raw)) return 'sqs'
  throw new UsageError(`USE_AWS_QUEUE="${raw.slice(0, 20)}" is neither on nor off.`, {
    code: 'USE_AWS_QUEUE_INVALID',
    suggestions: [`Set USE_AWS_QUEUE to one of ${ON.join(', ')} (SQS) or ${OFF.join(', ')} (the local queue in the database).`],
  })
}

export interface OpenedQueue {
  queue: MessageQueue
  kind: QueueKind
  /** The ARN and region the records of this queue carry in an SQS event. */
  source: QueueSource
  /** A non-secret description for logs: the queue name or URL. */
  display: string
}

export interface OpenQueueOptions {
  /** Local queue only: options beyond the database (visibility timeout, max receive count, clock). */
  local?: Omit<LocalQueueOptions, 'database'>
}

/**
 * Opens the queue {@link queueKindFor} selects. SQS uses SQS_QUEUE_URL
 * (required), SQS_DLQ_URL (optional, for depth), SQS_ENDPOINT (a local
 * emulator such as fauxqs) and AWS_REGION (else the region in the queue URL,
 * else us-east-1); credentials come from the SDK's default chain, with
 * throwaway ones for a local endpoint that has none. The local queue lives
 * in `database` (migration 0004).
 */
export async function openMessageQueue(database: Database, settings: SettingsReader, options: OpenQueueOptions = {}): Promise<OpenedQueue> {
  const kind = queueKindFor(settings)
  if (kind === 'local') {
    const queue = new LocalQueue({database, ...options.local})
    return {
      queue,
      kind,
      source: {queueArn: `arn:aws:sqs:local:000000000000:${queue.queueName}`, awsRegion: 'local'},
      display: `local queue ${queue.queueName} in ${database.target.display}`,
    }
  }
  const queueUrl = settings.get('SQS_QUEUE_URL')?.trim()
  if (!queueUrl) {
    throw new UsageError('USE_AWS_QUEUE is on but SQS_QUEUE_URL is not set.', {
      code: 'SQS_QUEUE_URL_MISSING',
      suggestions: ['Set SQS_QUEUE_URL to the queue URL (`engage deploy local` or the stack outputs print it), or unset USE_AWS_QUEUE to use the local queue.'],
    })
  }
  let url: URL
  try {
    url = new URL(queueUrl)
  } catch {
    throw new UsageError(`SQS_QUEUE_URL "${queueUrl.slice(0, 200)}" is not a URL.`, {
      code: 'SQS_QUEUE_URL_INVALID',
      suggestions: ['Use the full queue URL, e.g. https://sqs.us-east-1.amazonaws.com/123456789012/engageninja-messages-dev.'],
    })
  }
  const endpoint = settings.get('SQS_ENDPOINT')?.trim() || undefined
  const region = settings.get('AWS_REGION')?.trim() || regionOfQueueUrl(url) || DEFAULT_REGION
  const localCredentials =
    endpoint !== undefined && !settings.get('AWS_ACCESS_KEY_ID') ? {credentials: {accessKeyId: 'local', secretAccessKey: 'local'}} : {}
  const client = await createSqsClient({region, ...(endpoint ? {endpoint} : {}), ...localCredentials})
  const deadLetterQueueUrl = settings.get('SQS_DLQ_URL')?.trim() || undefined
  const queue = new SqsQueue({client, queueUrl, ...(deadLetterQueueUrl ? {deadLetterQueueUrl} : {})})
  return {queue, kind, source: {queueArn: queueArnOf(url, region), awsRegion: region}, display: `SQS queue ${queueUrl}`}
}

/**
 * Opens the queue the cutover flag selects for one tenant's new sends
 * ({@link readUseAwsQueue}: the USE_AWS_QUEUE environment variable when set,
 * else the tenant's row, else the global row, else local), read from the
 * database at call time. `flag` says which value applied and where it came
 * from.
 */
export async function openMessageQueueForTenant(
  database: Database,
  settings: SettingsReader,
  tenantId: string,
  options: OpenQueueOptions = {},
): Promise<OpenedQueue & {flag: FlagReading}> {
  const flag = await readUseAwsQueue(database, settings, tenantId)
  const decided: SettingsReader = {get: (name) => (name === 'USE_AWS_QUEUE' ? String(flag.value) : settings.get(name))}
  return {...(await openMessageQueue(database, decided, options)), flag}
}

/** `us-east-1` from https://sqs.us-east-1.amazonaws.com/…, undefined for other hosts. */
function regionOfQueueUrl(url: URL): string | undefined {
  return /^sqs\.([a-z0-9-]+)\.amazonaws\.com/.exec(url.hostname)?.[1]
}

/** arn:aws:sqs:REGION:ACCOUNT:NAME from a queue URL's /ACCOUNT/NAME path. */
function queueArnOf(url: URL, region: string): string {
  const [account = '000000000000', name = 'unknown'] = url.pathname.split('/').filter(Boolean).slice(-2)
  return `arn:aws:sqs:${region}:${account}:${name}`
}
