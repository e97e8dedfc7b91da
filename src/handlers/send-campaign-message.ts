/**
 * Lambda entry of SendCampaignMessage (SQS trigger, ReportBatchItemFailures).
 * An adapter only: the database, keyring and processor are built on the
 * first invocation and reused while the container is warm; the work is
 * src/pipeline/send's, the same code `engage worker` runs locally.
 */
import {createLogger, type LogLevel} from '../cli/logger.js'
import {Keyring} from '../crypto/encryption-key.js'
import {createSendCampaignMessageProcessor, type SqsBatchEvent, type SqsBatchResponse} from '../pipeline/send/index.js'
import {lambdaPoolSize} from '../lambda/pool-size.js'
import {openLambdaDatabase} from '../pipeline/send/lambda-database.js'

type Processor = (event: SqsBatchEvent) => Promise<SqsBatchResponse>

let processor: Promise<Processor> | undefined

async function build(): Promise<Processor> {
  const get = (name: string) => process.env[name]
  const url = get('DATABASE_URL')
  if (!url) throw new Error('DATABASE_URL is not set for SendCampaignMessage.')
  // Keys first: a missing ENCRYPTION_KEY fails before a connection is opened.
  const keyring = Keyring.fromSettings(get)
  const database = await openLambdaDatabase(url, {poolSize: lambdaPoolSize(get, 4)})
  const level = (get('LOG_LEVEL') ?? 'info') as LogLevel
  const logger = createLogger(['error', 'warn', 'info', 'debug'].includes(level) ? level : 'info')
  const claimTimeoutMs = Number(get('SEND_CLAIM_TIMEOUT_MS')) || undefined
  return createSendCampaignMessageProcessor({database, keyring, get, logger, claimTimeoutMs})
}

export async function handler(event: SqsBatchEvent): Promise<SqsBatchResponse> {
  processor ??= build().catch((error: unknown) => {
    // A failed start is not cached: the next invocation tries again (the whole batch is retried meanwhile).
    processor = undefined
    throw error
  })
  return (await processor)(event)
}
