import {join, resolve} from 'node:path'
import {projectRoot} from '../config/project-root.js'
import {SEND_LAMBDA_TIMEOUT_SECONDS} from '../queue/sqs/queue-definitions.js'

/**
 * One deployable Lambda function: where its source entry lives, what the
 * bundle is called, and the runtime limits the stack gives it. The stack and
 * the bundler both read this list, so a function cannot be deployed with a
 * zip other than its own or a timeout other than the one the queue's
 * visibility timeout was checked against.
 */
export interface LambdaFunctionSpec {
  /** Bundle and zip name (`build/lambda/<name>.zip`); the AWS name is `engageninja-<name>-<env>`. */
  name: string
  /** The name the plan and the AWS console use for it. */
  title: string
  /** Entry module, relative to the project root; it exports `handler`. */
  entry: string
  /** Lambda handler string: file `index.mjs` in the zip, export `handler`. */
  handler: 'index.handler'
  timeoutSeconds: number
  memoryMb: number
  description: string
}

/** SQS consumer: sends one batch of campaign messages through SES / Twilio. */
export const SEND_CAMPAIGN_MESSAGE: LambdaFunctionSpec = {
  name: 'send-campaign-message',
  title: 'SendCampaignMessage',
  entry: 'src/handlers/send-campaign-message.ts',
  handler: 'index.handler',
  // The queue definition derives its visibility timeout (6×) from this same constant;
  // the stack re-checks the rule, so a change on either side cannot slip through.
  timeoutSeconds: SEND_LAMBDA_TIMEOUT_SECONDS,
  memoryMb: 512,
  description: 'Sends queued campaign messages (SQS → SES/Twilio)',
}

/** Scheduled every minute: reconciles message statuses and reports them to the backend. */
export const UPDATE_MESSAGE_STATUS: LambdaFunctionSpec = {
  name: 'update-message-status',
  title: 'UpdateMessageStatus',
  entry: 'src/handlers/update-message-status.ts',
  handler: 'index.handler',
  // Must finish before the next minute's run starts.
  timeoutSeconds: 55,
  memoryMb: 256,
  description: 'Reconciles message statuses every minute and reports them to the backend',
}

/** HTTP: receives Twilio status callbacks (`POST /webhooks/twilio`). */
export const TWILIO_WEBHOOK: LambdaFunctionSpec = {
  name: 'twilio-webhook',
  title: 'TwilioWebhook',
  entry: 'src/handlers/twilio-webhook.ts',
  handler: 'index.handler',
  // API Gateway HTTP APIs give up after 30 s; Twilio after 15 s.
  timeoutSeconds: 10,
  memoryMb: 256,
  description: 'Receives Twilio status callbacks',
}

export const LAMBDA_FUNCTIONS: readonly LambdaFunctionSpec[] = [SEND_CAMPAIGN_MESSAGE, UPDATE_MESSAGE_STATUS, TWILIO_WEBHOOK]

/** Default directory for the zips, relative to the working directory. */
export const DEFAULT_BUNDLE_DIR = join('build', 'lambda')

/** The zip of one function inside a bundle directory. */
export function bundleZipPath(bundleDir: string, name: string): string {
  return join(bundleDir, `${name}.zip`)
}

/** Absolute entry path of a function. */
export function entryPath(spec: LambdaFunctionSpec, root: string = projectRoot()): string {
  return resolve(root, spec.entry)
}
