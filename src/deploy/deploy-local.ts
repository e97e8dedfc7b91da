import {updateDotenv, type DotenvUpdateResult} from '../config/dotenv-writer.js'
import {UsageError} from '../errors/engage-error.js'
import {ensureQueues, messagesQueueDefinition, type EnsuredQueues} from '../queue/sqs/queue-definitions.js'
import {createSqsClient} from '../queue/sqs/sqs-queue.js'

export const DEFAULT_LOCAL_SQS_ENDPOINT = 'http://127.0.0.1:9324'

export interface DeployLocalOptions {
  /** Environment name in the queue names (`local` → engageninja-messages-local). */
  env: string
  endpoint: string
  region: string
  dotenvPath: string
  /** Credentials for the emulator; it accepts any, the SDK insists on some. */
  credentials?: {accessKeyId: string; secretAccessKey: string}
}

export interface DeployLocalResult {
  env: string
  endpoint: string
  queues: EnsuredQueues
  dotenv: DotenvUpdateResult
}

/**
 * `engage deploy local`: creates the message queue and its DLQ on a local
 * SQS endpoint (fauxqs, ElasticMQ) from the same `messagesQueueDefinition`
 * the CDKTF stack uses — names, redrive, visibility timeout — and writes
 * SQS_QUEUE_URL, SQS_DLQ_URL and SQS_ENDPOINT into `.env`. Idempotent:
 * queues that exist are converged, not recreated. USE_AWS_QUEUE is left to
 * the operator.
 */
export async function deployLocal(options: DeployLocalOptions): Promise<DeployLocalResult> {
  let endpoint: URL
  try {
    endpoint = new URL(options.endpoint)
    if (endpoint.protocol !== 'http:' && endpoint.protocol !== 'https:') throw new Error('not http(s)')
  } catch {
    throw new UsageError(`--sqs-endpoint ${JSON.stringify(options.endpoint)} is not an http(s) URL.`, {
      code: 'DEPLOY_LOCAL_ENDPOINT_INVALID',
      suggestions: [`Pass the emulator's URL, e.g. --sqs-endpoint ${DEFAULT_LOCAL_SQS_ENDPOINT}.`],
    })
  }
  const definition = messagesQueueDefinition(options.env)
  const client = await createSqsClient({
    endpoint: endpoint.toString().replace(/\/$/, ''),
    region: options.region,
    credentials: options.credentials ?? {accessKeyId: 'local', secretAccessKey: 'local'},
    maxAttempts: 2,
  })
  try {
    const queues = await ensureQueues(client, definition)
    const dotenv = updateDotenv(options.dotenvPath, {
      SQS_QUEUE_URL: queues.queueUrl,
      SQS_DLQ_URL: queues.dlqUrl,
      SQS_ENDPOINT: endpoint.toString().replace(/\/$/, ''),
    })
    return {env: options.env, endpoint: endpoint.toString().replace(/\/$/, ''), queues, dotenv}
  } finally {
    client.destroy()
  }
}
