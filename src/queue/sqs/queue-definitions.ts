import {ProviderError, UsageError} from '../../errors/engage-error.js'
import {loadSqsSdk, type SqsSender} from './sqs-queue.js'

/**
 * The SQS queues engage runs on, as data. `engage deploy local` creates them
 * on an emulator with {@link ensureQueues}; the CDKTF stack maps the same
 * definition onto `aws_sqs_queue` resources. Change a value here and both
 * follow, so there is one source of truth.
 */
export interface QueueDefinition {
  name: string
  dlqName: string
  /** Six times the consumer Lambda's timeout, as AWS advises for SQS event sources. */
  visibilityTimeoutSeconds: number
  /** Receives after which SQS moves a message to the dead-letter queue. */
  maxReceiveCount: number
  messageRetentionSeconds: number
  /** Longer than the source's: a standard queue's DLQ keeps the original enqueue time, so it must outlive it. */
  dlqMessageRetentionSeconds: number
  /** Long polling by default, so idle receivers do not spin. */
  receiveWaitTimeSeconds: number
  sqsManagedSse: true
}

/** Timeout of the SendCampaignMessage Lambda; the visibility timeout is derived from it. */
export const SEND_LAMBDA_TIMEOUT_SECONDS = 30

// SQS: up to 80 characters of letters, digits, hyphens and underscores.
const QUEUE_NAME = /^[A-Za-z0-9_-]{1,80}$/
const ENV_NAME = /^[a-z0-9][a-z0-9-]*$/

/** The campaign message queue and its dead-letter queue for one environment (`dev`, `staging`, `prod`, `local`). */
export function messagesQueueDefinition(env: string): QueueDefinition {
  const name = `engageninja-messages-${env}`
  const dlqName = `${name}-dlq`
  if (!ENV_NAME.test(env) || !QUEUE_NAME.test(dlqName)) {
    throw new UsageError(`"${env}" cannot be used as an environment name in a queue name.`, {
      code: 'QUEUE_ENV_INVALID',
      suggestions: ['Use lower-case letters, digits and hyphens, starting with a letter or digit, at most 51 characters.'],
    })
  }
  return {
    name,
    dlqName,
    visibilityTimeoutSeconds: 6 * SEND_LAMBDA_TIMEOUT_SECONDS,
    maxReceiveCount: 5,
    messageRetentionSeconds: 4 * 24 * 3600,
    dlqMessageRetentionSeconds: 14 * 24 * 3600,
    receiveWaitTimeSeconds: 20,
    sqsManagedSse: true,
  }
}

/** CreateQueue / SetQueueAttributes attributes of the main queue. */
export function mainQueueAttributes(definition: QueueDefinition, dlqArn: string): Record<string, string> {
  return {
    VisibilityTimeout: String(definition.visibilityTimeoutSeconds),
    MessageRetentionPeriod: String(definition.messageRetentionSeconds),
    ReceiveMessageWaitTimeSeconds: String(definition.receiveWaitTimeSeconds),
    RedrivePolicy: JSON.stringify({deadLetterTargetArn: dlqArn, maxReceiveCount: definition.maxReceiveCount}),
    SqsManagedSseEnabled: String(definition.sqsManagedSse),
  }
}

/** Attributes of the dead-letter queue; `sourceArn` restricts who may redrive into it. */
export function deadLetterQueueAttributes(definition: QueueDefinition, sourceArn?: string): Record<string, string> {
  return {
    MessageRetentionPeriod: String(definition.dlqMessageRetentionSeconds),
    SqsManagedSseEnabled: String(definition.sqsManagedSse),
    ...(sourceArn === undefined ? {} : {RedriveAllowPolicy: JSON.stringify({redrivePermission: 'byQueue', sourceQueueArns: [sourceArn]})}),
  }
}

export interface EnsuredQueues {
  queueUrl: string
  queueArn: string
  dlqUrl: string
  dlqArn: string
  /** Queue names created by this call (empty when both existed: "already done"). */
  created: string[]
  /** `queue: Attribute` pairs changed on queues that existed with other values. */
  updated: string[]
  /** `queue: Attribute` pairs the endpoint refused as unknown (emulators); the queues work without them. */
  unsupported: string[]
}

function isMissingQueue(error: unknown): boolean {
  const name = (error as {name?: string})?.name ?? ''
  return name === 'QueueDoesNotExist' || name.includes('NonExistentQueue')
}

function isUnknownAttribute(error: unknown): boolean {
  const name = (error as {name?: string})?.name ?? ''
  return name === 'InvalidAttributeName' || name.includes('InvalidAttributeName')
}

// JSON attributes come back re-serialised (maxReceiveCount as a number or a
// string depending on the endpoint), so they are compared by content.
function normalise(name: string, value: string | undefined): string | undefined {
  if (value === undefined || (name !== 'RedrivePolicy' && name !== 'RedriveAllowPolicy')) return value
  try {
    const parsed = JSON.parse(value) as Record<string, unknown>
    return JSON.stringify(
      Object.keys(parsed)
        .sort()
        .map((key) => [key, Array.isArray(parsed[key]) ? (parsed[key] as unknown[]).map(String).sort() : String(parsed[key])]),
    )
  } catch {
    return value
  }
}

/**
 * Create the dead-letter queue and the main queue of `definition` with a
 * RedrivePolicy (main → DLQ) and a RedriveAllowPolicy (DLQ accepts only the
 * main queue), on AWS or any SQS-compatible endpoint. Idempotent: queues that
 * exist are converged to the definition one attribute at a time, and an
 * attribute the endpoint does not know is reported in `unsupported` rather
 * than failing the whole call.
 */
export async function ensureQueues(client: SqsSender, definition: QueueDefinition): Promise<EnsuredQueues> {
  const {CreateQueueCommand, GetQueueAttributesCommand, GetQueueUrlCommand, SetQueueAttributesCommand} = await loadSqsSdk()
  const result: EnsuredQueues = {queueUrl: '', queueArn: '', dlqUrl: '', dlqArn: '', created: [], updated: [], unsupported: []}

  const fail = (operation: string, queue: string, error: unknown): never => {
    const code = (error as {name?: string})?.name ?? 'Error'
    throw new ProviderError(`SQS ${operation} failed for ${queue}: ${code}: ${(error as Error)?.message ?? String(error)}`, {
      code: 'SQS_QUEUE_SETUP_FAILED',
      cause: error,
      details: {operation, queue, awsCode: code},
      suggestions: ['Check the SQS endpoint, region and credentials, and that they may create and configure queues.'],
    })
  }

  const urlOf = async (name: string): Promise<string | undefined> => {
    try {
      return (await client.send(new GetQueueUrlCommand({QueueName: name}))).QueueUrl
    } catch (error) {
      if (isMissingQueue(error)) return undefined
      return fail('GetQueueUrl', name, error)
    }
  }

  const attributesOf = async (name: string, url: string, names: string[]): Promise<Record<string, string>> => {
    try {
      return (await client.send(new GetQueueAttributesCommand({QueueUrl: url, AttributeNames: names as never}))).Attributes ?? {}
    } catch (error) {
      return fail('GetQueueAttributes', name, error)
    }
  }

  const converge = async (name: string, url: string, wanted: Record<string, string>): Promise<void> => {
    const current = await attributesOf(name, url, Object.keys(wanted))
    for (const [attribute, value] of Object.entries(wanted)) {
      if (normalise(attribute, current[attribute]) === normalise(attribute, value)) continue
      try {
        await client.send(new SetQueueAttributesCommand({QueueUrl: url, Attributes: {[attribute]: value}}))
        result.updated.push(`${name}: ${attribute}`)
      } catch (error) {
        if (isUnknownAttribute(error)) result.unsupported.push(`${name}: ${attribute}`)
        else fail('SetQueueAttributes', name, error)
      }
    }
  }

  const ensure = async (name: string, attributes: Record<string, string>): Promise<string> => {
    const existing = await urlOf(name)
    if (existing) {
      await converge(name, existing, attributes)
      return existing
    }
    try {
      const url = (await client.send(new CreateQueueCommand({QueueName: name, Attributes: attributes}))).QueueUrl
      if (!url) return fail('CreateQueue', name, new Error('no QueueUrl in the response'))
      result.created.push(name)
      return url
    } catch (error) {
      return fail('CreateQueue', name, error)
    }
  }

  result.dlqUrl = await ensure(definition.dlqName, deadLetterQueueAttributes(definition))
  result.dlqArn = (await attributesOf(definition.dlqName, result.dlqUrl, ['QueueArn'])).QueueArn ?? ''
  if (!result.dlqArn.endsWith(`:${definition.dlqName}`)) {
    return fail('GetQueueAttributes', definition.dlqName, new Error('the queue ARN is missing or malformed'))
  }
  result.queueUrl = await ensure(definition.name, mainQueueAttributes(definition, result.dlqArn))
  result.queueArn = (await attributesOf(definition.name, result.queueUrl, ['QueueArn'])).QueueArn ?? ''
  // The DLQ's allow-list names the main queue, whose ARN exists only now.
  await converge(definition.dlqName, result.dlqUrl, deadLetterQueueAttributes(definition, result.queueArn))
  return result
}
