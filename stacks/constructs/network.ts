import {SecurityGroup} from '@cdktf/provider-aws/lib/security-group/index.js'
import {VpcSecurityGroupEgressRule} from '@cdktf/provider-aws/lib/vpc-security-group-egress-rule/index.js'
import {VpcSecurityGroupIngressRule} from '@cdktf/provider-aws/lib/vpc-security-group-ingress-rule/index.js'
import {Construct} from 'constructs'

export interface LambdaNetworkProps {
  env: string
  vpcId: string
  /** Security group of the shared PostgreSQL. */
  databaseSecurityGroupId: string
}

export const POSTGRES_PORT = 5432

/**
 * The Lambdas' security group: out to the database on 5432 and to HTTPS
 * (SQS, SES, CloudWatch, Twilio) on 443, nothing else, nothing in.
 * Terraform strips the default allow-all egress of a new group, so these are
 * the only rules. The database group gets one additive ingress rule from this
 * group; the database's other rules are not managed here.
 */
export class LambdaNetwork extends Construct {
  readonly securityGroup: SecurityGroup

  constructor(scope: Construct, id: string, props: LambdaNetworkProps) {
    super(scope, id)
    this.securityGroup = new SecurityGroup(this, 'lambda-sg', {
      name: `engageninja-lambda-${props.env}`,
      description: 'engage messaging Lambdas: egress to PostgreSQL and HTTPS only',
      vpcId: props.vpcId,
    })
    new VpcSecurityGroupEgressRule(this, 'to-database', {
      securityGroupId: this.securityGroup.id,
      description: 'PostgreSQL (shared database)',
      ipProtocol: 'tcp',
      fromPort: POSTGRES_PORT,
      toPort: POSTGRES_PORT,
      referencedSecurityGroupId: props.databaseSecurityGroupId,
    })
    new VpcSecurityGroupEgressRule(this, 'to-https', {
      securityGroupId: this.securityGroup.id,
      description: 'HTTPS: AWS APIs (via NAT or VPC endpoints) and Twilio',
      ipProtocol: 'tcp',
      fromPort: 443,
      toPort: 443,
      cidrIpv4: '0.0.0.0/0',
    })
    new VpcSecurityGroupIngressRule(this, 'database-from-lambdas', {
      securityGroupId: props.databaseSecurityGroupId,
      description: `engage messaging Lambdas (${props.env})`,
      ipProtocol: 'tcp',
      fromPort: POSTGRES_PORT,
      toPort: POSTGRES_PORT,
      referencedSecurityGroupId: this.securityGroup.id,
    })
  }
}
