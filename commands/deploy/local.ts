import {Flags} from '@oclif/core'
import {resolve} from 'node:path'
import {BaseCommand} from '../../src/cli/base-command.js'
import {DEFAULT_LOCAL_SQS_ENDPOINT, deployLocal, type DeployLocalResult} from '../../src/deploy/deploy-local.js'

export default class DeployLocal extends BaseCommand<typeof DeployLocal> {
  static override summary = 'Create the message queues on a local SQS endpoint and point .env at them.'
  static override description = [
    'Creates engageninja-messages-ENV and its dead-letter queue (redrive, visibility timeout, retention: the same',
    'definition the AWS stack uses) on a local SQS emulator such as fauxqs, then writes SQS_QUEUE_URL,',
    'SQS_DLQ_URL and SQS_ENDPOINT into .env, leaving every other key (USE_AWS_QUEUE included) as it is.',
    'Running it again converges existing queues and reports them as already there.',
  ].join('\n')

  static override examples = ['<%= config.bin %> deploy local', '<%= config.bin %> deploy local --sqs-endpoint http://127.0.0.1:4566 --json']

  static override flags = {
    env: Flags.string({summary: 'Environment name used in the queue names.', default: 'local'}),
    'sqs-endpoint': Flags.string({summary: `SQS endpoint URL (env SQS_ENDPOINT; default ${DEFAULT_LOCAL_SQS_ENDPOINT}).`}),
    region: Flags.string({summary: 'Region for the SQS client (env AWS_REGION; default us-east-1).'}),
    'dotenv-file': Flags.string({summary: 'File the queue URLs are written to.', default: '.env'}),
  }

  public async run(): Promise<DeployLocalResult> {
    const result = await deployLocal({
      env: this.flags.env,
      endpoint: this.settings.resolve('SQS_ENDPOINT', this.flags['sqs-endpoint'], DEFAULT_LOCAL_SQS_ENDPOINT).value,
      region: this.settings.resolve('AWS_REGION', this.flags.region, 'us-east-1').value,
      dotenvPath: resolve(this.flags['dotenv-file']),
    })
    const {queues} = result
    this.logger.info(queues.created.length === 0 ? 'Queues already exist (converged).' : `Created ${queues.created.join(', ')}.`)
    for (const change of queues.updated) this.logger.info(`Updated ${change}`)
    for (const attribute of queues.unsupported) this.logger.warn(`The endpoint does not support ${attribute}; the queues work without it.`)
    if (!this.jsonEnabled()) {
      this.log(`SQS_QUEUE_URL=${queues.queueUrl}`)
      this.log(`SQS_DLQ_URL=${queues.dlqUrl}`)
      this.log(`SQS_ENDPOINT=${result.endpoint}`)
    }
    return result
  }
}
