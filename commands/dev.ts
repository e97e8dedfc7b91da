import {Flags} from '@oclif/core'
import {resolve} from 'node:path'
import {BaseCommand} from '../src/cli/base-command.js'
import {DEFAULT_DEV_PORTS, startDevStack, type DevStackInfo} from '../src/dev-stack/start-dev-stack.js'

const port = (name: string, fallback: number) => Flags.integer({summary: `Port of the ${name} (0 picks a free one).`, default: fallback, min: 0, max: 65535})

export default class Dev extends BaseCommand<typeof Dev> {
  static override summary = 'Run the whole local stack until Ctrl-C: SQS and SES emulators, Twilio sandbox, engage serve and the workers.'
  static override description = `Everything listens on 127.0.0.1. Starts the SQS emulator (fauxqs) and SES emulator (aws-ses-v2-local) as child processes, and in this process the Twilio sandbox (always account AC0…01 and messaging service MG0…01), creates the message queues (as \`engage deploy local\`), and writes the URLs into .env: TWILIO_API_BASE_URL, SQS_ENDPOINT, SQS_QUEUE_URL, SQS_DLQ_URL, SES_ENDPOINT, WEBHOOK_BASE_URL, ENGAGE_SERVE_URL, BACKEND_STATUS_WEBHOOK_URL. Other keys are left alone. Missing secrets are generated into .env: ENCRYPTION_KEY, BACKEND_STATUS_WEBHOOK_SECRET and TWILIO_AUTH_TOKEN (the sandbox's own token: a local value, useless against real Twilio, written so \`engage seed twilio\` finds it). Secrets are never printed.
Once the database is migrated (run \`engage migrate up\` in another terminal), it starts engage serve (Twilio webhook, status intake, SSE), the status forwarder and two workers: one on the local queue, one on SQS standing in for the Lambda. Ctrl-C (SIGINT) or SIGTERM stops everything and exits 0. See docs/runbook.md.`

  static override examples = ['<%= config.bin %> dev', '<%= config.bin %> dev --serve-port 0 --twilio-port 0 --sqs-port 0 --ses-port 0 --json']

  static override flags = {
    'serve-port': port('engage serve (webhook, SSE)', DEFAULT_DEV_PORTS.serve),
    'twilio-port': port('Twilio sandbox', DEFAULT_DEV_PORTS.twilio),
    'sqs-port': port('SQS emulator', DEFAULT_DEV_PORTS.sqs),
    'ses-port': port('SES emulator', DEFAULT_DEV_PORTS.ses),
    'dotenv-file': Flags.string({summary: 'The .env file the URLs are written to.', default: '.env'}),
    region: Flags.string({summary: 'AWS region of the emulated queues.', default: 'us-east-1'}),
  }

  public async run(): Promise<void> {
    const controller = new AbortController()
    const onSignal = (signal: NodeJS.Signals) => {
      if (controller.signal.aborted) return
      this.logger.info(`Received ${signal}; stopping the dev stack.`)
      controller.abort()
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
    try {
      // The quick start runs `engage dev` before `engage migrate up`: a missing SQLite file is created empty, and migrated by that command.
      const database = await this.database({create: true})
      const stack = await startDevStack({
        database,
        settings: this.settings,
        logger: this.logger,
        dotenvPath: resolve(this.flags['dotenv-file']),
        ports: {serve: this.flags['serve-port'], twilio: this.flags['twilio-port'], sqs: this.flags['sqs-port'], ses: this.flags['ses-port']},
        region: this.flags.region,
        signal: controller.signal,
        onUrls: (info) => this.announce(info),
      })
      try {
        if (stack.ready) this.logger.info('Dev stack ready. Press Ctrl-C to stop.')
        if (!controller.signal.aborted) await new Promise((done) => controller.signal.addEventListener('abort', done, {once: true}))
      } finally {
        await stack.stop()
      }
      this.logger.info('Dev stack stopped.')
    } finally {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    }
  }

  /** stdout: the .env lines and the sandbox ids (one JSON document with --json); secrets only named, on stderr. */
  private announce(info: DevStackInfo): void {
    if (this.jsonEnabled()) {
      process.stdout.write(JSON.stringify({urls: info.urls, twilio: info.twilio, dotenv: info.dotenvPath, generatedSecrets: info.generatedSecrets}) + '\n')
    } else {
      for (const [name, value] of Object.entries(info.urls)) this.log(`${name}=${value}`)
      this.log(`TWILIO_ACCOUNT_SID=${info.twilio.accountSid}`)
      this.log(`TWILIO_MESSAGING_SERVICE_SID=${info.twilio.messagingServiceSid}`)
      this.log(`TWILIO_FROM=${info.twilio.smsFrom}`)
      this.log(`TWILIO_WHATSAPP_FROM=${info.twilio.whatsappFrom}`)
    }
    this.logger.info(`Wrote the URLs to ${info.dotenvPath}${info.generatedSecrets.length > 0 ? `, and generated ${info.generatedSecrets.join(', ')} there (local-only values)` : ''}.`)
    this.logger.info(
      `Seed a tenant against the sandbox: npx engage seed twilio --tenant demo --create-tenant --name Demo --account-sid ${info.twilio.accountSid} --messaging-service-sid ${info.twilio.messagingServiceSid} --from ${info.twilio.smsFrom} (the auth token is TWILIO_AUTH_TOKEN in .env).`,
    )
  }
}
