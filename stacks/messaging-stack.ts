import {AwsProvider} from '@cdktf/provider-aws/lib/provider/index.js'
import {LambdaEventSourceMapping} from '@cdktf/provider-aws/lib/lambda-event-source-mapping/index.js'
import {Fn, LocalBackend, Op, S3Backend, TerraformOutput, TerraformStack, TerraformVariable} from 'cdktf'
import type {Construct} from 'constructs'
import {join, relative} from 'node:path'
import {bundleZipPath} from '../src/lambda/functions.js'
import {PG_POOL_MAX} from '../src/lambda/pool-size.js'
import {assertVisibilityTimeout, senderMaxConcurrency, type MessagingStackConfig} from './config.js'
import {EngageLambda} from './constructs/engage-lambda.js'
import {MessagesQueue} from './constructs/messages-queue.js'
import {LambdaNetwork} from './constructs/network.js'
import {StatusSchedule} from './constructs/status-schedule.js'
import {WebhookApi} from './constructs/webhook-api.js'

/** Terraform output names; `engage deploy dev` writes them into `.env` under the same names. */
export const STACK_OUTPUTS = ['SQS_QUEUE_URL', 'SQS_DLQ_URL', 'TWILIO_MESSAGING_SERVICE_SID', 'WEBHOOK_BASE_URL'] as const

/** The stack's sensitive Terraform variables; their values arrive as TF_VAR_* at plan time, never in the JSON. */
export const SENSITIVE_VARIABLES = ['database_url', 'encryption_key', 'backend_status_webhook_secret'] as const

export interface MessagingStackOptions {
  config: MessagingStackConfig
  /** Directory Terraform runs in (where this stack's cdk.tf.json is written); relative paths are computed from it. */
  stackDir: string
  /** The working directory `bundleDir` and the local state directory are relative to. */
  baseDir: string
}

/**
 * Everything the send pipeline runs on in one AWS account and region: the
 * message queue and its DLQ, the three Lambdas with their roles, log groups
 * and triggers (SQS, a one-minute schedule, an HTTP API for Twilio), the
 * Lambdas' security group towards the shared PostgreSQL, and alarms. The
 * database itself exists already and is not managed here; its URL and
 * network come in as variables. Secrets are sensitive variables whose
 * values never enter the synthesized JSON.
 *
 * Building the stack checks the rules AWS would only enforce at apply time
 * (or not at all): visibility timeout ≥ 6 × the sender timeout, and a
 * connection budget that leaves the sender at least the SQS minimum
 * concurrency.
 */
export class MessagingStack extends TerraformStack {
  constructor(scope: Construct, id: string, options: MessagingStackOptions) {
    super(scope, id)
    const {config} = options
    assertVisibilityTimeout(config.queue, config.functions.sender)
    const senderConcurrency = senderMaxConcurrency(config.connectionBudget)

    this.configureBackend(options)
    const vars = this.declareVariables(config)
    new AwsProvider(this, 'aws', {
      region: vars.awsRegion.stringValue,
      defaultTags: [{tags: {Project: 'engageninja', Component: 'messaging', Environment: config.env, ManagedBy: 'engage-cdktf'}}],
    })

    const queue = new MessagesQueue(this, 'messages', {
      definition: config.queue,
      oldestMessageAlarmSeconds: config.oldestMessageAlarmSeconds,
      alarmActions: vars.alarmActions.listValue,
    })
    const network = new LambdaNetwork(this, 'network', {
      env: config.env,
      vpcId: vars.vpcId.stringValue,
      databaseSecurityGroupId: vars.databaseSecurityGroupId.stringValue,
    })

    const zipPath = (name: string) => relative(options.stackDir, join(options.baseDir, bundleZipPath(config.bundleDir, name))).split('\\').join('/')
    const common = {
      env: config.env,
      subnetIds: vars.subnetIds.listValue,
      securityGroupIds: [network.securityGroup.id],
    }
    const budget = config.connectionBudget
    const database = {
      DATABASE_URL: vars.databaseUrl.stringValue,
      ENCRYPTION_KEY: vars.encryptionKey.stringValue,
      [PG_POOL_MAX]: String(budget.poolSizePerInstance),
      ENGAGE_ENV: config.env,
    }
    // cdktf renders the literals '' and 0 in expressions as `undefined`, so tests compare lengths with 1.
    // The API exists before the Lambdas (its routes come later), so they can be told its URL;
    // a custom domain in front of it overrides the endpoint.
    const api = new WebhookApi(this, 'webhook-api', {env: config.env, rateLimit: 25})
    const webhookBaseUrl = () => Fn.conditional(Op.gte(Fn.lengthOf(vars.webhookBaseUrl.stringValue), 1), vars.webhookBaseUrl.stringValue, api.api.apiEndpoint)

    const sender = new EngageLambda(this, 'send-campaign-message', {
      ...common,
      spec: config.functions.sender,
      zipPath: zipPath(config.functions.sender.name),
      logRetentionDays: config.logRetentionDays.sender,
      // Only what the handler reads: the StatusCallback URL and messaging service come from the tenant's row.
      environment: database,
      statements: [
        {
          // The event source mapping polls with the function's role: Receive, Delete and
          // GetQueueAttributes are what Lambda requires of it; ChangeMessageVisibility lets a
          // batch hand a record back early. This queue only, never the DLQ.
          sid: 'ConsumeMessagesQueue',
          effect: 'Allow',
          actions: ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ReceiveMessage'],
          resources: [queue.queue.arn],
        },
        {
          // Identity ARNs come from `ses_identity_arns`: the verified domains or addresses
          // messages are sent from (and, while the account is in the SES sandbox, the
          // verified recipients and any configuration set used).
          sid: 'SendEmailAsVerifiedIdentities',
          effect: 'Allow',
          // The SES provider calls SendEmail (SES v1) only; SendRawEmail would allow arbitrary MIME.
          actions: ['ses:SendEmail'],
          resources: vars.sesIdentityArns.listValue,
        },
      ],
    })

    const statusUpdater = new EngageLambda(this, 'update-message-status', {
      ...common,
      spec: config.functions.statusUpdater,
      zipPath: zipPath(config.functions.statusUpdater.name),
      logRetentionDays: config.logRetentionDays.statusUpdater,
      reservedConcurrency: budget.statusUpdaterConcurrency,
      environment: {
        ...database,
        BACKEND_STATUS_WEBHOOK_URL: vars.backendStatusWebhookUrl.stringValue,
        BACKEND_STATUS_WEBHOOK_SECRET: vars.backendStatusWebhookSecret.stringValue,
      },
      statements: [],
    })

    const webhook = new EngageLambda(this, 'twilio-webhook', {
      ...common,
      spec: config.functions.webhook,
      zipPath: zipPath(config.functions.webhook.name),
      logRetentionDays: config.logRetentionDays.webhook,
      reservedConcurrency: budget.webhookConcurrency,
      environment: {...database, WEBHOOK_BASE_URL: webhookBaseUrl()},
      statements: [],
    })

    new LambdaEventSourceMapping(this, 'send-campaign-message-trigger', {
      eventSourceArn: queue.queue.arn,
      functionName: sender.function.arn,
      batchSize: config.senderBatchSize,
      maximumBatchingWindowInSeconds: config.senderBatchWindowSeconds,
      functionResponseTypes: ['ReportBatchItemFailures'],
      scalingConfig: {maximumConcurrency: senderConcurrency},
    })

    new StatusSchedule(this, 'update-message-status-schedule', {target: statusUpdater, scheduleExpression: 'rate(1 minute)'})
    api.routeTwilioCallbacks(webhook)

    this.output('SQS_QUEUE_URL', queue.queue.url, 'URL of the campaign message queue')
    this.output('SQS_DLQ_URL', queue.deadLetterQueue.url, 'URL of its dead-letter queue')
    this.output('TWILIO_MESSAGING_SERVICE_SID', vars.twilioMessagingServiceSid.stringValue, 'Twilio Messaging Service the sender uses')
    this.output('WEBHOOK_BASE_URL', webhookBaseUrl(), 'Base URL of the webhook API (Twilio callbacks go to /webhooks/twilio)')
  }

  private output(name: (typeof STACK_OUTPUTS)[number], value: string, description: string): void {
    new TerraformOutput(this, name, {value, description}).overrideLogicalId(name)
  }

  private configureBackend({config, stackDir, baseDir}: MessagingStackOptions): void {
    if (config.state.kind === 's3') {
      new S3Backend(this, {bucket: config.state.bucket, key: config.state.key, region: config.state.region, encrypt: true, workspaceKeyPrefix: 'env'})
      // S3-native locking (Terraform ≥ 1.10, OpenTofu ≥ 1.10); cdktf 0.21 predates the option.
      this.addOverride('terraform.backend.s3.use_lockfile', true)
      return
    }
    const directory = relative(stackDir, join(baseDir, config.state.directory)).split('\\').join('/')
    new LocalBackend(this, {path: `${directory}/terraform.tfstate`, workspaceDir: `${directory}/workspaces`})
  }

  private declareVariables(config: MessagingStackConfig) {
    const variable = (id: string, options: ConstructorParameters<typeof TerraformVariable>[2]) => {
      const created = new TerraformVariable(this, id, {nullable: false, ...options})
      created.overrideLogicalId(id)
      return created
    }
    const secret = (id: string, description: string) => variable(id, {type: 'string', sensitive: true, description})
    const check = (condition: unknown, errorMessage: string) => ({condition, errorMessage})
    const databaseUrl = secret('database_url', 'postgres:// URL of the shared PostgreSQL (TF_VAR_database_url)')
    databaseUrl.addValidation(check(Fn.can(Fn.regex('^postgres(ql)?://', databaseUrl.stringValue)), 'database_url must be a postgres:// URL: the Lambdas use the shared PostgreSQL.'))
    const twilioSid = variable('twilio_messaging_service_sid', {type: 'string', description: 'Twilio Messaging Service SID (MG…)'})
    twilioSid.addValidation(check(Fn.can(Fn.regex('^MG[0-9a-fA-F]{32}$', twilioSid.stringValue)), 'twilio_messaging_service_sid must look like MG followed by 32 hex digits.'))
    const subnetIds = variable('subnet_ids', {type: 'list(string)', description: 'Private subnets (with a NAT route or VPC endpoints) for the Lambdas'})
    subnetIds.addValidation(check(Op.gte(Fn.lengthOf(subnetIds.listValue), 1), 'subnet_ids needs at least one subnet.'))
    const sesIdentityArns = variable('ses_identity_arns', {type: 'list(string)', description: 'SES identity ARNs the sender may send as'})
    sesIdentityArns.addValidation(
      check(
        Fn.can(Fn.regex('^(arn:aws[a-z-]*:ses:[a-z0-9-]+:[0-9]{12}:[^,]+,?)+$', Fn.join(',', sesIdentityArns.listValue))),
        'ses_identity_arns needs at least one SES ARN (arn:aws:ses:REGION:ACCOUNT:identity/NAME).',
      ),
    )
    return {
      awsRegion: variable('aws_region', {type: 'string', default: config.region, description: 'AWS region'}),
      databaseUrl,
      encryptionKey: secret('encryption_key', 'ENCRYPTION_KEY for channel credentials (TF_VAR_encryption_key)'),
      backendStatusWebhookSecret: secret('backend_status_webhook_secret', 'Secret that signs status reports to the backend (TF_VAR_backend_status_webhook_secret)'),
      backendStatusWebhookUrl: variable('backend_status_webhook_url', {type: 'string', description: 'Backend URL that receives message status reports'}),
      webhookBaseUrl: variable('webhook_base_url', {type: 'string', default: '', description: 'Public base URL of the webhook API if a custom domain fronts it; empty uses the API endpoint'}),
      twilioMessagingServiceSid: twilioSid,
      vpcId: variable('vpc_id', {type: 'string', description: 'VPC of the shared PostgreSQL'}),
      subnetIds,
      databaseSecurityGroupId: variable('database_security_group_id', {type: 'string', description: 'Security group of the shared PostgreSQL'}),
      sesIdentityArns,
      alarmActions: variable('alarm_actions', {type: 'list(string)', default: [], description: 'SNS topic ARNs notified by the queue alarms'}),
    }
  }
}
