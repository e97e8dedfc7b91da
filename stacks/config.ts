import {UsageError} from '../src/errors/engage-error.js'
import {SEND_CAMPAIGN_MESSAGE, TWILIO_WEBHOOK, UPDATE_MESSAGE_STATUS, type LambdaFunctionSpec} from '../src/lambda/functions.js'
import {messagesQueueDefinition, type QueueDefinition} from '../src/queue/sqs/queue-definitions.js'

/**
 * How many connections of the shared PostgreSQL the messaging Lambdas may
 * hold together, and how they are split. Every Lambda instance handles one
 * event at a time and keeps its own `pg` Pool for the instance's life, so
 * the connections held are (concurrent instances) × (pool size). The status
 * updater and the webhook get fixed reserved concurrencies; the sender gets
 * the rest, as the SQS event source mapping's `maximum_concurrency`:
 *
 *   sender concurrency = floor((lambdaConnections − (updater + webhook) × poolSize) / poolSize)
 *
 * Pool size answers the plan's open question: **2 per instance**. A batch is
 * processed by one invocation; the sender may overlap its provider call for
 * one record with the database write of the previous one, which a second
 * connection allows, while a third would only sit idle between batches.
 * Lambdas receive it as `PG_POOL_MAX`.
 */
export interface ConnectionBudget {
  /** Connections of the shared PostgreSQL set aside for this stack's Lambdas (the backend keeps the rest). */
  lambdaConnections: number
  /** `pg` Pool `max` in every Lambda instance. */
  poolSizePerInstance: number
  /** Reserved concurrency of UpdateMessageStatus; 1 also keeps two scheduled runs from overlapping. */
  statusUpdaterConcurrency: number
  /** Reserved concurrency of the Twilio webhook; callbacks beyond it are throttled (429) and retried by Twilio. */
  webhookConcurrency: number
}

/** Dev: the shared PostgreSQL allows 100 connections; the backend and operators keep 80. */
export const DEFAULT_CONNECTION_BUDGET: ConnectionBudget = {
  lambdaConnections: 20,
  poolSizePerInstance: 2,
  statusUpdaterConcurrency: 1,
  webhookConcurrency: 3,
}

/** AWS refuses an SQS event source `maximum_concurrency` below 2 (or above 1000). */
export const SQS_ESM_MIN_CONCURRENCY = 2
export const SQS_ESM_MAX_CONCURRENCY = 1000

/** Everything the messaging stack is built from; `stackConfig(env)` gives the defaults. */
export interface MessagingStackConfig {
  /** Environment name; also the Terraform workspace and part of every resource name. */
  env: string
  /** Default AWS region (the `aws_region` variable's default). */
  region: string
  queue: QueueDefinition
  functions: {sender: LambdaFunctionSpec; statusUpdater: LambdaFunctionSpec; webhook: LambdaFunctionSpec}
  connectionBudget: ConnectionBudget
  /** SQS records per SendCampaignMessage invocation (the handler reports failures per record). */
  senderBatchSize: number
  /** How long SQS may wait to fill a batch; short, because campaigns are latency-tolerant but not idle. */
  senderBatchWindowSeconds: number
  logRetentionDays: Record<'sender' | 'statusUpdater' | 'webhook', number>
  /** Alarm when the oldest message in the main queue is older than this. */
  oldestMessageAlarmSeconds: number
  /** Directory holding `<function>.zip`, relative to the working directory (the zips may be built after synth). */
  bundleDir: string
  state: StateBackendConfig
}

/**
 * Where Terraform keeps state. Local by default (one operator's machine, kept
 * out of `build/` so a clean does not lose it); S3 with native lock files
 * when `TF_STATE_BUCKET` is set, which a shared dev workspace should use.
 */
export type StateBackendConfig =
  | {kind: 'local'; directory: string}
  | {kind: 's3'; bucket: string; key: string; region: string}

/** Lambda architecture: arm64 (Graviton) costs ~20 % less per GB-second and bundles contain no native code to rebuild. */
export const LAMBDA_ARCHITECTURE = 'arm64'
export const LAMBDA_RUNTIME = 'nodejs22.x'

/** Default configuration for an environment; `overrides` replace top-level fields (tests break rules with it). */
export function stackConfig(env: string, overrides: Partial<MessagingStackConfig> = {}, settings: {get(name: string): string | undefined} = {get: () => undefined}): MessagingStackConfig {
  const region = settings.get('AWS_REGION') ?? settings.get('AWS_DEFAULT_REGION') ?? 'us-east-1'
  const bucket = settings.get('TF_STATE_BUCKET')
  return {
    env,
    region,
    queue: messagesQueueDefinition(env),
    functions: {sender: SEND_CAMPAIGN_MESSAGE, statusUpdater: UPDATE_MESSAGE_STATUS, webhook: TWILIO_WEBHOOK},
    connectionBudget: DEFAULT_CONNECTION_BUDGET,
    senderBatchSize: 10,
    senderBatchWindowSeconds: 1,
    logRetentionDays: {sender: 14, statusUpdater: 7, webhook: 14},
    oldestMessageAlarmSeconds: 15 * 60,
    bundleDir: 'build/lambda',
    state: bucket
      ? {kind: 's3', bucket, key: 'engage/messaging.tfstate', region: settings.get('TF_STATE_REGION') ?? region}
      : {kind: 'local', directory: '.engage/terraform-state'},
    ...overrides,
  }
}

/**
 * The SendCampaignMessage concurrency the connection budget allows. Throws
 * when the budget leaves the sender fewer than the 2 concurrent instances an
 * SQS event source mapping needs, so the plan fails before AWS would.
 */
export function senderMaxConcurrency(budget: ConnectionBudget): number {
  for (const [name, value] of Object.entries(budget)) {
    if (!Number.isInteger(value) || value < 1) {
      throw new UsageError(`Connection budget ${name} must be a positive integer (got ${value}).`, {code: 'STACK_CONNECTION_BUDGET_INVALID'})
    }
  }
  const reserved = (budget.statusUpdaterConcurrency + budget.webhookConcurrency) * budget.poolSizePerInstance
  const concurrency = Math.min(Math.floor((budget.lambdaConnections - reserved) / budget.poolSizePerInstance), SQS_ESM_MAX_CONCURRENCY)
  if (concurrency < SQS_ESM_MIN_CONCURRENCY) {
    throw new UsageError(
      `The database connection budget leaves SendCampaignMessage a concurrency of ${Math.max(concurrency, 0)}; an SQS event source needs at least ${SQS_ESM_MIN_CONCURRENCY}. ` +
        `(${budget.lambdaConnections} connections − ${reserved} reserved for the status updater and webhook, ÷ pool size ${budget.poolSizePerInstance}.)`,
      {
        code: 'STACK_SENDER_CONCURRENCY_TOO_LOW',
        details: {...budget, derivedConcurrency: concurrency},
        suggestions: [`Raise lambdaConnections to at least ${reserved + SQS_ESM_MIN_CONCURRENCY * budget.poolSizePerInstance}, or lower the pool size or the reserved concurrencies, in stacks/config.ts.`],
      },
    )
  }
  return concurrency
}

/**
 * AWS: an SQS event source's visibility timeout must be at least six times
 * the function timeout, or messages reappear while a slow batch is still
 * being processed and are sent twice. Checked when the stack is built.
 */
export function assertVisibilityTimeout(queue: QueueDefinition, sender: LambdaFunctionSpec): void {
  const needed = 6 * sender.timeoutSeconds
  if (queue.visibilityTimeoutSeconds < needed) {
    throw new UsageError(
      `Queue ${queue.name} has a visibility timeout of ${queue.visibilityTimeoutSeconds} s, less than 6 × the ${sender.title} timeout (${sender.timeoutSeconds} s = ${needed} s).`,
      {
        code: 'STACK_VISIBILITY_TIMEOUT_TOO_SHORT',
        details: {queue: queue.name, visibilityTimeoutSeconds: queue.visibilityTimeoutSeconds, lambdaTimeoutSeconds: sender.timeoutSeconds},
        suggestions: ['Raise visibilityTimeoutSeconds in src/queue/sqs/queue-definitions.ts or lower the sender timeout in src/lambda/functions.ts.'],
      },
    )
  }
}

