import {CloudwatchMetricAlarm} from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm/index.js'
import {SqsQueue} from '@cdktf/provider-aws/lib/sqs-queue/index.js'
import {SqsQueueRedriveAllowPolicy} from '@cdktf/provider-aws/lib/sqs-queue-redrive-allow-policy/index.js'
import {Construct} from 'constructs'
import type {QueueDefinition} from '../../src/queue/sqs/queue-definitions.js'

export interface MessagesQueueProps {
  definition: QueueDefinition
  /** Alarm when the oldest visible message is older than this many seconds. */
  oldestMessageAlarmSeconds: number
  /** SNS topic ARNs (or other alarm actions) to notify; a Terraform list expression. */
  alarmActions: string[]
}

/**
 * The campaign message queue and its dead-letter queue, mapped one to one
 * from `messagesQueueDefinition(env)` — the same definition `engage deploy
 * local` creates on an emulator. The redrive-allow policy lives in its own
 * resource because it names the source queue, which itself names the DLQ.
 * Two alarms: anything in the DLQ, and a backlog that stops moving.
 */
export class MessagesQueue extends Construct {
  readonly queue: SqsQueue
  readonly deadLetterQueue: SqsQueue

  constructor(scope: Construct, id: string, props: MessagesQueueProps) {
    super(scope, id)
    const {definition} = props

    this.deadLetterQueue = new SqsQueue(this, 'dlq', {
      name: definition.dlqName,
      messageRetentionSeconds: definition.dlqMessageRetentionSeconds,
      sqsManagedSseEnabled: definition.sqsManagedSse,
    })

    this.queue = new SqsQueue(this, 'queue', {
      name: definition.name,
      visibilityTimeoutSeconds: definition.visibilityTimeoutSeconds,
      messageRetentionSeconds: definition.messageRetentionSeconds,
      receiveWaitTimeSeconds: definition.receiveWaitTimeSeconds,
      sqsManagedSseEnabled: definition.sqsManagedSse,
      redrivePolicy: JSON.stringify({deadLetterTargetArn: this.deadLetterQueue.arn, maxReceiveCount: definition.maxReceiveCount}),
    })

    new SqsQueueRedriveAllowPolicy(this, 'dlq-redrive-allow', {
      queueUrl: this.deadLetterQueue.url,
      redriveAllowPolicy: JSON.stringify({redrivePermission: 'byQueue', sourceQueueArns: [this.queue.arn]}),
    })

    new CloudwatchMetricAlarm(this, 'dlq-not-empty', {
      alarmName: `${definition.dlqName}-not-empty`,
      alarmDescription: `Messages in ${definition.dlqName}: campaign messages failed ${definition.maxReceiveCount} times. Inspect, fix, then redrive.`,
      namespace: 'AWS/SQS',
      metricName: 'ApproximateNumberOfMessagesVisible',
      dimensions: {QueueName: definition.dlqName},
      statistic: 'Maximum',
      period: 60,
      evaluationPeriods: 1,
      threshold: 0,
      comparisonOperator: 'GreaterThanThreshold',
      // SQS stops publishing metrics for a queue idle for six hours: no data is an empty DLQ.
      treatMissingData: 'notBreaching',
      alarmActions: props.alarmActions,
      okActions: props.alarmActions,
    })

    new CloudwatchMetricAlarm(this, 'oldest-message-age', {
      alarmName: `${definition.name}-oldest-message-age`,
      alarmDescription: `The oldest message in ${definition.name} waited more than ${props.oldestMessageAlarmSeconds} s: SendCampaignMessage is failing, throttled or stopped.`,
      namespace: 'AWS/SQS',
      metricName: 'ApproximateAgeOfOldestMessage',
      dimensions: {QueueName: definition.name},
      statistic: 'Maximum',
      period: 60,
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
      threshold: props.oldestMessageAlarmSeconds,
      comparisonOperator: 'GreaterThanThreshold',
      treatMissingData: 'notBreaching',
      alarmActions: props.alarmActions,
      okActions: props.alarmActions,
    })
  }
}
