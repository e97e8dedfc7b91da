import {Testing} from 'cdktf'
import {describe, expect, it} from 'vitest'
import {UsageError} from '../../../src/errors/engage-error.js'
import {messagesQueueDefinition} from '../../../src/queue/sqs/queue-definitions.js'
import {DEFAULT_CONNECTION_BUDGET, senderMaxConcurrency, stackConfig, type MessagingStackConfig} from '../../../stacks/config.js'
import {VPC_NETWORK_INTERFACE_ACTIONS} from '../../../stacks/constructs/engage-lambda.js'
import {MessagingStack, SENSITIVE_VARIABLES, STACK_OUTPUTS} from '../../../stacks/messaging-stack.js'

type Block = Record<string, any>
interface Synth {
  json: string
  resource: Record<string, Record<string, Block>>
  data: Record<string, Record<string, Block>>
  variable: Record<string, Block>
  output: Record<string, Block>
  terraform: Block
}

function synth(overrides: Partial<MessagingStackConfig> = {}, settings: Record<string, string> = {}): Synth {
  const config = stackConfig('dev', overrides, {get: (name) => settings[name]})
  const stack = new MessagingStack(Testing.app(), 'messaging', {config, baseDir: '/repo', stackDir: '/repo/build/cdktf/stacks/messaging'})
  const json = Testing.synth(stack)
  return {json, ...(JSON.parse(json) as Omit<Synth, 'json'>)}
}

/** The one resource of `type` whose properties include `match`, with its logical id. */
function find(s: Synth, type: string, match: Block): {id: string; block: Block} {
  const found = Object.entries(s.resource[type] ?? {}).filter(([, block]) => Object.entries(match).every(([key, value]) => JSON.stringify(block[key]) === JSON.stringify(value)))
  expect(found, `${type} matching ${JSON.stringify(match)}`).toHaveLength(1)
  const [id, block] = found[0]!
  return {id, block}
}

const strip = ({'//': _metadata, ...rest}: Block) => rest
const ref = (type: string, id: string, attribute: string) => `\${${type}.${id}.${attribute}}`

describe('MessagingStack', () => {
  const s = synth()
  const queue = find(s, 'aws_sqs_queue', {name: 'engageninja-messages-dev'})
  const dlq = find(s, 'aws_sqs_queue', {name: 'engageninja-messages-dev-dlq'})
  const fn = (name: string) => find(s, 'aws_lambda_function', {function_name: `engageninja-${name}-dev`})
  const logGroup = (name: string) => find(s, 'aws_cloudwatch_log_group', {name: `/aws/lambda/engageninja-${name}-dev`})
  const lambdaSg = find(s, 'aws_security_group', {name: 'engageninja-lambda-dev'})
  const api = find(s, 'aws_apigatewayv2_api', {name: 'engageninja-webhooks-dev'})

  it('maps the queue and its DLQ from messagesQueueDefinition, with redrive both ways and SSE', () => {
    const definition = messagesQueueDefinition('dev')

    expect(strip(queue.block)).toEqual({
      name: definition.name,
      visibility_timeout_seconds: definition.visibilityTimeoutSeconds,
      message_retention_seconds: definition.messageRetentionSeconds,
      receive_wait_time_seconds: definition.receiveWaitTimeSeconds,
      sqs_managed_sse_enabled: true,
      redrive_policy: JSON.stringify({deadLetterTargetArn: ref('aws_sqs_queue', dlq.id, 'arn'), maxReceiveCount: definition.maxReceiveCount}),
    })
    expect(strip(dlq.block)).toEqual({name: definition.dlqName, message_retention_seconds: definition.dlqMessageRetentionSeconds, sqs_managed_sse_enabled: true})
    const allow = find(s, 'aws_sqs_queue_redrive_allow_policy', {queue_url: ref('aws_sqs_queue', dlq.id, 'url')})
    expect(JSON.parse(allow.block.redrive_allow_policy)).toEqual({redrivePermission: 'byQueue', sourceQueueArns: [ref('aws_sqs_queue', queue.id, 'arn')]})
    expect(Testing.toHaveResourceWithProperties(s.json, 'aws_sqs_queue', {name: 'engageninja-messages-dev', visibility_timeout_seconds: 180})).toBe(true)
  })

  it('gives each function its own role with exactly the statements it needs', () => {
    const logs = (name: string) => ({sid: 'WriteOwnLogs', effect: 'Allow', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [`${ref('aws_cloudwatch_log_group', logGroup(name).id, 'arn')}:*`]})
    const vpc = {sid: 'VpcNetworkInterfaces', effect: 'Allow', actions: VPC_NETWORK_INTERFACE_ACTIONS, resources: ['*']}
    const expected: Record<string, Block[]> = {
      'send-campaign-message': [
        logs('send-campaign-message'),
        vpc,
        {
          sid: 'ConsumeMessagesQueue',
          effect: 'Allow',
          actions: ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ReceiveMessage'],
          resources: [ref('aws_sqs_queue', queue.id, 'arn')],
        },
        {sid: 'SendEmailAsVerifiedIdentities', effect: 'Allow', actions: ['ses:SendEmail'], resources: '${var.ses_identity_arns}'},
      ],
      'update-message-status': [logs('update-message-status'), vpc],
      'twilio-webhook': [logs('twilio-webhook'), vpc],
    }
    expect(VPC_NETWORK_INTERFACE_ACTIONS).toEqual([
      'ec2:AssignPrivateIpAddresses',
      'ec2:CreateNetworkInterface',
      'ec2:DeleteNetworkInterface',
      'ec2:DescribeNetworkInterfaces',
      'ec2:DescribeSubnets',
      'ec2:UnassignPrivateIpAddresses',
    ])

    for (const [name, statements] of Object.entries(expected)) {
      const role = find(s, 'aws_iam_role', {name: `engageninja-${name}-dev`})
      const policy = find(s, 'aws_iam_role_policy', {role: ref('aws_iam_role', role.id, 'id')})
      const documentId = /^\$\{data\.aws_iam_policy_document\.([^.]+)\.json\}$/.exec(policy.block.policy)?.[1]
      expect(strip(s.data.aws_iam_policy_document![documentId!]!)).toEqual({statement: statements})
      const assumeId = /^\$\{data\.aws_iam_policy_document\.([^.]+)\.json\}$/.exec(role.block.assume_role_policy)?.[1]
      expect(strip(s.data.aws_iam_policy_document![assumeId!]!)).toEqual({
        statement: [{effect: 'Allow', actions: ['sts:AssumeRole'], principals: [{type: 'Service', identifiers: ['lambda.amazonaws.com']}]}],
      })
      expect(fn(name).block.role).toBe(ref('aws_iam_role', role.id, 'arn'))
    }
    // The only wildcard resource in the stack is the ENI statement AWS requires it for.
    const wildcards = [...s.json.matchAll(/"\*"/g)].length
    expect(wildcards).toBe(3)
    expect(s.json).not.toMatch(/"(sqs|ses|logs|lambda|ec2):\*"/)
  })

  it('defines the three Lambdas: Node 22 on arm64, zips from build/lambda hashed at plan time, secrets by reference', () => {
    const database = {DATABASE_URL: '${var.database_url}', ENCRYPTION_KEY: '${var.encryption_key}', PG_POOL_MAX: '2', ENGAGE_ENV: 'dev'}
    const webhookBase = `\${(length(var.webhook_base_url) >= 1) ? var.webhook_base_url : ${ref('aws_apigatewayv2_api', api.id, 'api_endpoint').slice(2, -1)}}`
    const cases = [
      {name: 'send-campaign-message', timeout: 30, memory: 512, reserved: undefined, env: database},
      {
        name: 'update-message-status',
        timeout: 55,
        memory: 256,
        reserved: 1,
        env: {...database, BACKEND_STATUS_WEBHOOK_URL: '${var.backend_status_webhook_url}', BACKEND_STATUS_WEBHOOK_SECRET: '${var.backend_status_webhook_secret}'},
      },
      {name: 'twilio-webhook', timeout: 10, memory: 256, reserved: 3, env: {...database, WEBHOOK_BASE_URL: webhookBase}},
    ]
    for (const expected of cases) {
      const {block} = fn(expected.name)
      const zip = `../../../lambda/${expected.name}.zip`
      expect(block).toMatchObject({
        runtime: 'nodejs22.x',
        architectures: ['arm64'],
        handler: 'index.handler',
        filename: zip,
        source_code_hash: `\${filebase64sha256("${zip}")}`,
        timeout: expected.timeout,
        memory_size: expected.memory,
        environment: {variables: expected.env},
        vpc_config: {subnet_ids: '${var.subnet_ids}', security_group_ids: [ref('aws_security_group', lambdaSg.id, 'id')]},
        logging_config: {log_format: 'JSON', log_group: ref('aws_cloudwatch_log_group', logGroup(expected.name).id, 'name')},
      })
      expect(block.reserved_concurrent_executions).toBe(expected.reserved)
      expect(Object.keys(block.environment.variables).sort()).toEqual(Object.keys(expected.env).sort())
    }
  })

  it('triggers the sender from SQS with partial batch failures and the budgeted concurrency', () => {
    const mapping = find(s, 'aws_lambda_event_source_mapping', {event_source_arn: ref('aws_sqs_queue', queue.id, 'arn')})

    expect(strip(mapping.block)).toEqual({
      event_source_arn: ref('aws_sqs_queue', queue.id, 'arn'),
      function_name: ref('aws_lambda_function', fn('send-campaign-message').id, 'arn'),
      batch_size: 10,
      maximum_batching_window_in_seconds: 1,
      function_response_types: ['ReportBatchItemFailures'],
      // (20 connections − (1 + 3) reserved instances × pool 2) ÷ pool 2
      scaling_config: {maximum_concurrency: 6},
    })
  })

  it('keeps the connections all instances may hold within the budget: Σ concurrency × PG_POOL_MAX ≤ lambdaConnections', () => {
    const mapping = find(s, 'aws_lambda_event_source_mapping', {event_source_arn: ref('aws_sqs_queue', queue.id, 'arn')})
    const pool = (name: string) => Number(fn(name).block.environment.variables.PG_POOL_MAX)
    const held =
      mapping.block.scaling_config.maximum_concurrency * pool('send-campaign-message') +
      fn('update-message-status').block.reserved_concurrent_executions * pool('update-message-status') +
      fn('twilio-webhook').block.reserved_concurrent_executions * pool('twilio-webhook')

    expect(held).toBeLessThanOrEqual(DEFAULT_CONNECTION_BUDGET.lambdaConnections)
    expect(held).toBe(20)
  })

  it('runs UpdateMessageStatus every minute from EventBridge', () => {
    const rule = find(s, 'aws_cloudwatch_event_rule', {name: 'engageninja-update-message-status-dev'})
    const target = fn('update-message-status')

    expect(rule.block.schedule_expression).toBe('rate(1 minute)')
    find(s, 'aws_cloudwatch_event_target', {rule: ref('aws_cloudwatch_event_rule', rule.id, 'name'), arn: ref('aws_lambda_function', target.id, 'arn')})
    const permission = find(s, 'aws_lambda_permission', {principal: 'events.amazonaws.com'})
    expect(strip(permission.block)).toEqual({
      statement_id: 'AllowEventBridgeSchedule',
      action: 'lambda:InvokeFunction',
      function_name: ref('aws_lambda_function', target.id, 'function_name'),
      principal: 'events.amazonaws.com',
      source_arn: ref('aws_cloudwatch_event_rule', rule.id, 'arn'),
    })
  })

  it('serves POST /webhooks/twilio from an HTTP API proxying to the webhook Lambda', () => {
    const webhook = fn('twilio-webhook')
    const apiRef = (attribute: string) => ref('aws_apigatewayv2_api', api.id, attribute)

    expect(api.block.protocol_type).toBe('HTTP')
    const integration = find(s, 'aws_apigatewayv2_integration', {api_id: apiRef('id')})
    expect(strip(integration.block)).toEqual({
      api_id: apiRef('id'),
      integration_type: 'AWS_PROXY',
      integration_method: 'POST',
      integration_uri: ref('aws_lambda_function', webhook.id, 'invoke_arn'),
      payload_format_version: '2.0',
      timeout_milliseconds: 11_000,
    })
    find(s, 'aws_apigatewayv2_route', {api_id: apiRef('id'), route_key: 'POST /webhooks/twilio', target: `integrations/${ref('aws_apigatewayv2_integration', integration.id, 'id')}`})
    find(s, 'aws_apigatewayv2_stage', {api_id: apiRef('id'), name: '$default', auto_deploy: true})
    const permission = find(s, 'aws_lambda_permission', {principal: 'apigateway.amazonaws.com'})
    expect(permission.block).toMatchObject({function_name: ref('aws_lambda_function', webhook.id, 'function_name'), source_arn: `${apiRef('execution_arn')}/*/POST/webhooks/twilio`})
  })

  it('keeps logs for a set time and alarms on the DLQ and on a stuck queue', () => {
    expect([logGroup('send-campaign-message'), logGroup('update-message-status'), logGroup('twilio-webhook')].map(({block}) => block.retention_in_days)).toEqual([14, 7, 14])

    const dlqAlarm = find(s, 'aws_cloudwatch_metric_alarm', {metric_name: 'ApproximateNumberOfMessagesVisible'})
    expect(dlqAlarm.block).toMatchObject({
      namespace: 'AWS/SQS',
      dimensions: {QueueName: 'engageninja-messages-dev-dlq'},
      comparison_operator: 'GreaterThanThreshold',
      threshold: 0,
      alarm_actions: '${var.alarm_actions}',
    })
    const ageAlarm = find(s, 'aws_cloudwatch_metric_alarm', {metric_name: 'ApproximateAgeOfOldestMessage'})
    expect(ageAlarm.block).toMatchObject({namespace: 'AWS/SQS', dimensions: {QueueName: 'engageninja-messages-dev'}, comparison_operator: 'GreaterThanThreshold', threshold: 900})
  })

  it('lets the Lambdas reach only PostgreSQL (5432, its security group) and HTTPS', () => {
    const sg = ref('aws_security_group', lambdaSg.id, 'id')
    const egress = Object.values(s.resource.aws_vpc_security_group_egress_rule!).map(strip)
    expect(egress.map(({description: _d, ...rule}) => rule)).toEqual([
      {security_group_id: sg, ip_protocol: 'tcp', from_port: 5432, to_port: 5432, referenced_security_group_id: '${var.database_security_group_id}'},
      {security_group_id: sg, ip_protocol: 'tcp', from_port: 443, to_port: 443, cidr_ipv4: '0.0.0.0/0'},
    ])
    const ingress = Object.values(s.resource.aws_vpc_security_group_ingress_rule!).map(strip)
    expect(ingress.map(({description: _d, ...rule}) => rule)).toEqual([
      {security_group_id: '${var.database_security_group_id}', ip_protocol: 'tcp', from_port: 5432, to_port: 5432, referenced_security_group_id: sg},
    ])
    expect(lambdaSg.block).not.toHaveProperty('ingress')
    expect(lambdaSg.block).not.toHaveProperty('egress')
  })

  it('declares secrets as sensitive variables without defaults and outputs what .env needs', () => {
    for (const name of SENSITIVE_VARIABLES) {
      expect(s.variable[name]).toMatchObject({type: 'string', sensitive: true, nullable: false})
      expect(s.variable[name]).not.toHaveProperty('default')
    }
    expect(Object.entries(s.variable).filter(([, block]) => block.sensitive).map(([name]) => name).sort()).toEqual([...SENSITIVE_VARIABLES].sort())
    expect(Object.keys(s.output).sort()).toEqual([...STACK_OUTPUTS].sort())
    expect(s.output.SQS_QUEUE_URL!.value).toBe(ref('aws_sqs_queue', queue.id, 'url'))
    expect(s.output.SQS_DLQ_URL!.value).toBe(ref('aws_sqs_queue', dlq.id, 'url'))
    expect(s.output.TWILIO_MESSAGING_SERVICE_SID!.value).toBe('${var.twilio_messaging_service_sid}')
    expect(s.output.WEBHOOK_BASE_URL!.value).toContain(ref('aws_apigatewayv2_api', api.id, 'api_endpoint').slice(2, -1))
  })

  it('keeps local state outside build/ by default and uses S3 with lock files when TF_STATE_BUCKET is set', () => {
    expect(s.terraform.backend).toEqual({local: {path: '../../../../.engage/terraform-state/terraform.tfstate', workspace_dir: '../../../../.engage/terraform-state/workspaces'}})

    const remote = synth({}, {TF_STATE_BUCKET: 'engage-tfstate', AWS_REGION: 'eu-west-1'})
    expect(remote.terraform.backend).toEqual({s3: {bucket: 'engage-tfstate', key: 'engage/messaging.tfstate', region: 'eu-west-1', encrypt: true, workspace_key_prefix: 'env', use_lockfile: true}})
    expect(remote.variable.aws_region!.default).toBe('eu-west-1')
  })

  it('synthesizes the same JSON every time', () => {
    expect(synth().json).toBe(s.json)
  })
})

describe('stack rules', () => {
  it('refuses a visibility timeout under six times the sender timeout', () => {
    const queue = {...messagesQueueDefinition('dev'), visibilityTimeoutSeconds: 179}

    const build = () => synth({queue})

    expect(build).toThrow(UsageError)
    expect(build).toThrow(/visibility timeout of 179 s, less than 6 × the SendCampaignMessage timeout \(30 s = 180 s\)/)
  })

  it('refuses a sender timeout the queue was not sized for', () => {
    const base = stackConfig('dev')
    expect(() => synth({functions: {...base.functions, sender: {...base.functions.sender, timeoutSeconds: 31}}})).toThrow(/STACK|less than 6 ×/)
  })

  it('refuses a connection budget that leaves the sender under the SQS minimum concurrency of 2', () => {
    const tight = {...DEFAULT_CONNECTION_BUDGET, lambdaConnections: 11}

    expect(() => synth({connectionBudget: tight})).toThrow(/concurrency of 1; an SQS event source needs at least 2/)
    try {
      senderMaxConcurrency(tight)
    } catch (error) {
      expect((error as UsageError).code).toBe('STACK_SENDER_CONCURRENCY_TOO_LOW')
      expect((error as UsageError).suggestions[0]).toContain('at least 12')
    }
  })

  it('derives the concurrency at the boundary and caps it at the AWS maximum', () => {
    expect(senderMaxConcurrency({...DEFAULT_CONNECTION_BUDGET, lambdaConnections: 12})).toBe(2)
    expect(senderMaxConcurrency({...DEFAULT_CONNECTION_BUDGET, poolSizePerInstance: 1, lambdaConnections: 5000})).toBe(1000)
    const boundary = synth({connectionBudget: {...DEFAULT_CONNECTION_BUDGET, lambdaConnections: 12}})
    expect(Object.values(boundary.resource.aws_lambda_event_source_mapping!)[0]!.scaling_config).toEqual({maximum_concurrency: 2})
  })

  it('refuses a budget value that is not a positive integer', () => {
    expect(() => senderMaxConcurrency({...DEFAULT_CONNECTION_BUDGET, poolSizePerInstance: 0})).toThrow(/poolSizePerInstance must be a positive integer/)
  })
})
