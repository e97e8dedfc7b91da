import {Apigatewayv2Api} from '@cdktf/provider-aws/lib/apigatewayv2-api/index.js'
import {Apigatewayv2Integration} from '@cdktf/provider-aws/lib/apigatewayv2-integration/index.js'
import {Apigatewayv2Route} from '@cdktf/provider-aws/lib/apigatewayv2-route/index.js'
import {Apigatewayv2Stage} from '@cdktf/provider-aws/lib/apigatewayv2-stage/index.js'
import {LambdaPermission} from '@cdktf/provider-aws/lib/lambda-permission/index.js'
import {Construct} from 'constructs'
import type {EngageLambda} from './engage-lambda.js'

export interface WebhookApiProps {
  env: string
  /** Steady-state requests per second the stage lets through; bursts up to twice that. */
  rateLimit: number
}

/** The one route the API serves; Twilio status callbacks are POSTed here. */
export const TWILIO_WEBHOOK_METHOD = 'POST'
export const TWILIO_WEBHOOK_PATH = '/webhooks/twilio'

/**
 * An API Gateway HTTP API with one route, `POST /webhooks/twilio`, proxied to
 * the webhook Lambda (payload format 2.0) on the auto-deployed `$default`
 * stage, so the endpoint URL carries no stage segment. The invoke permission
 * is limited to that method and path. The stage is throttled so a callback
 * storm queues in Twilio's retries instead of in the database.
 */
export class WebhookApi extends Construct {
  readonly api: Apigatewayv2Api
  private readonly rateLimit: number

  constructor(scope: Construct, id: string, props: WebhookApiProps) {
    super(scope, id)
    this.rateLimit = props.rateLimit
    this.api = new Apigatewayv2Api(this, 'api', {
      name: `engageninja-webhooks-${props.env}`,
      protocolType: 'HTTP',
      description: 'Twilio status callbacks for engage',
    })
  }

  /** Routes `POST /webhooks/twilio` to `target` and deploys the stage. */
  routeTwilioCallbacks(target: EngageLambda): void {
    const integration = new Apigatewayv2Integration(this, 'integration', {
      apiId: this.api.id,
      integrationType: 'AWS_PROXY',
      integrationMethod: 'POST',
      integrationUri: target.function.invokeArn,
      payloadFormatVersion: '2.0',
      timeoutMilliseconds: Math.min(30_000, target.spec.timeoutSeconds * 1000 + 1000),
    })
    new Apigatewayv2Route(this, 'route', {
      apiId: this.api.id,
      routeKey: `${TWILIO_WEBHOOK_METHOD} ${TWILIO_WEBHOOK_PATH}`,
      target: `integrations/${integration.id}`,
    })
    new Apigatewayv2Stage(this, 'stage', {
      apiId: this.api.id,
      name: '$default',
      autoDeploy: true,
      defaultRouteSettings: {throttlingRateLimit: this.rateLimit, throttlingBurstLimit: this.rateLimit * 2},
    })
    new LambdaPermission(this, 'invoke', {
      statementId: 'AllowApiGatewayTwilioWebhook',
      action: 'lambda:InvokeFunction',
      functionName: target.function.functionName,
      principal: 'apigateway.amazonaws.com',
      sourceArn: `${this.api.executionArn}/*/${TWILIO_WEBHOOK_METHOD}${TWILIO_WEBHOOK_PATH}`,
    })
  }
}
