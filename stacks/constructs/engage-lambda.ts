import {CloudwatchLogGroup} from '@cdktf/provider-aws/lib/cloudwatch-log-group/index.js'
import {DataAwsIamPolicyDocument, type DataAwsIamPolicyDocumentStatement} from '@cdktf/provider-aws/lib/data-aws-iam-policy-document/index.js'
import {IamRole} from '@cdktf/provider-aws/lib/iam-role/index.js'
import {IamRolePolicy} from '@cdktf/provider-aws/lib/iam-role-policy/index.js'
import {LambdaFunction} from '@cdktf/provider-aws/lib/lambda-function/index.js'
import {Fn} from 'cdktf'
import {Construct} from 'constructs'
import type {LambdaFunctionSpec} from '../../src/lambda/functions.js'
import {LAMBDA_ARCHITECTURE, LAMBDA_RUNTIME} from '../config.js'

export interface EngageLambdaProps {
  env: string
  spec: LambdaFunctionSpec
  /** Zip path as Terraform sees it (relative to the synthesized stack directory). Need not exist at synth. */
  zipPath: string
  /** Environment variables; secret ones are `var.*` references, never values. */
  environment: Record<string, string>
  logRetentionDays: number
  subnetIds: string[]
  securityGroupIds: string[]
  /** Statements beyond logging and VPC networking, each scoped to named resources. */
  statements: DataAwsIamPolicyDocumentStatement[]
  reservedConcurrency?: number
}

/**
 * The network-interface actions Lambda needs to attach to a VPC (those of
 * the AWS managed policy AWSLambdaVPCAccessExecutionRole, without its
 * `logs:*` on every log group). AWS limitation: the Describe* actions have no
 * resource-level permissions, and Lambda creates its ENIs in subnets and
 * security groups chosen at deploy time through the execution role, so AWS
 * documents `"Resource": "*"` for all of them. This is the one wildcard in
 * the stack.
 */
export const VPC_NETWORK_INTERFACE_ACTIONS = [
  'ec2:AssignPrivateIpAddresses',
  'ec2:CreateNetworkInterface',
  'ec2:DeleteNetworkInterface',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DescribeSubnets',
  'ec2:UnassignPrivateIpAddresses',
]

/**
 * One Lambda function with what it owns: its log group (retention set, so
 * logs do not pile up forever), its own execution role and a least-privilege
 * inline policy (write to its own log group; VPC networking; plus the
 * caller's statements). The code comes from `build/lambda/<name>.zip`; its
 * hash is computed by Terraform (`filebase64sha256`) at plan time, so synth
 * works before the zips are built and a changed zip redeploys.
 */
export class EngageLambda extends Construct {
  readonly function: LambdaFunction
  readonly role: IamRole
  readonly logGroup: CloudwatchLogGroup
  readonly functionName: string
  readonly spec: LambdaFunctionSpec

  constructor(scope: Construct, id: string, props: EngageLambdaProps) {
    super(scope, id)
    const {spec} = props
    this.spec = spec
    this.functionName = `engageninja-${spec.name}-${props.env}`

    this.logGroup = new CloudwatchLogGroup(this, 'logs', {
      name: `/aws/lambda/${this.functionName}`,
      retentionInDays: props.logRetentionDays,
    })

    const assume = new DataAwsIamPolicyDocument(this, 'assume-role', {
      statement: [{effect: 'Allow', actions: ['sts:AssumeRole'], principals: [{type: 'Service', identifiers: ['lambda.amazonaws.com']}]}],
    })
    this.role = new IamRole(this, 'role', {
      name: this.functionName,
      description: `Execution role of ${spec.title} (${props.env})`,
      assumeRolePolicy: assume.json,
    })

    const permissions = new DataAwsIamPolicyDocument(this, 'permissions', {
      statement: [
        {sid: 'WriteOwnLogs', effect: 'Allow', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [`${this.logGroup.arn}:*`]},
        {sid: 'VpcNetworkInterfaces', effect: 'Allow', actions: VPC_NETWORK_INTERFACE_ACTIONS, resources: ['*']},
        ...props.statements,
      ],
    })
    const policy = new IamRolePolicy(this, 'policy', {
      name: 'least-privilege',
      role: this.role.id,
      policy: permissions.json,
    })

    this.function = new LambdaFunction(this, 'function', {
      functionName: this.functionName,
      description: spec.description,
      role: this.role.arn,
      runtime: LAMBDA_RUNTIME,
      architectures: [LAMBDA_ARCHITECTURE],
      handler: spec.handler,
      filename: props.zipPath,
      sourceCodeHash: Fn.filebase64sha256(props.zipPath),
      timeout: spec.timeoutSeconds,
      memorySize: spec.memoryMb,
      reservedConcurrentExecutions: props.reservedConcurrency,
      environment: {variables: props.environment},
      vpcConfig: {subnetIds: props.subnetIds, securityGroupIds: props.securityGroupIds},
      loggingConfig: {logFormat: 'JSON', logGroup: this.logGroup.name},
      // The role must be able to create ENIs and write logs before the first invocation.
      dependsOn: [policy, this.logGroup],
    })
  }
}
