import {CloudwatchEventRule} from '@cdktf/provider-aws/lib/cloudwatch-event-rule/index.js'
import {CloudwatchEventTarget} from '@cdktf/provider-aws/lib/cloudwatch-event-target/index.js'
import {LambdaPermission} from '@cdktf/provider-aws/lib/lambda-permission/index.js'
import {Construct} from 'constructs'
import type {EngageLambda} from './engage-lambda.js'

export interface StatusScheduleProps {
  target: EngageLambda
  scheduleExpression: string
}

/** An EventBridge rule that invokes a Lambda on a schedule, and the permission that lets it. */
export class StatusSchedule extends Construct {
  readonly rule: CloudwatchEventRule

  constructor(scope: Construct, id: string, props: StatusScheduleProps) {
    super(scope, id)
    this.rule = new CloudwatchEventRule(this, 'rule', {
      name: props.target.functionName,
      description: `Runs ${props.target.functionName} ${props.scheduleExpression}`,
      scheduleExpression: props.scheduleExpression,
    })
    new CloudwatchEventTarget(this, 'target', {
      rule: this.rule.name,
      targetId: 'lambda',
      arn: props.target.function.arn,
    })
    new LambdaPermission(this, 'invoke', {
      statementId: 'AllowEventBridgeSchedule',
      action: 'lambda:InvokeFunction',
      functionName: props.target.function.functionName,
      principal: 'events.amazonaws.com',
      sourceArn: this.rule.arn,
    })
  }
}
