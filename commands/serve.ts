import {Flags} from '@oclif/core'
import {BaseCommand} from '../src/cli/base-command.js'
import {startServeApp} from '../src/serve/serve-app.js'
import {mountTwilioWebhook} from '../src/serve/twilio-mount.js'
import {untilSignal} from '../src/cli/until-signal.js'

export default class Serve extends BaseCommand<typeof Serve> {
  static override summary = 'Run the local backend side: Twilio webhook, signed status intake, and status events over SSE.'
  static override description = `Serves, until Ctrl-C:
  POST /webhooks/twilio          Twilio status callbacks (the local flow; needs ENCRYPTION_KEY, checks signatures against WEBHOOK_BASE_URL or this server's URL)
  POST /internal/message-status  statuses from the forwarder, verified with BACKEND_STATUS_WEBHOOK_SECRET (Standard Webhooks)
  GET  /events                   Server-Sent Events; ?tenant= and ?campaign= filter; Last-Event-ID resumes (last 1000 events kept)
  GET  /healthz                  counters
When BACKEND_STATUS_WEBHOOK_URL is set, it also forwards applied statuses from the database to that URL (point it at this server's /internal/message-status for the whole loop locally). Bodies over 64 KB are refused with 413.`
  static override examples = [
    '<%= config.bin %> serve',
    'BACKEND_STATUS_WEBHOOK_URL=http://127.0.0.1:8787/internal/message-status <%= config.bin %> serve --port 8787',
    '<%= config.bin %> serve --port 0 --json',
  ]

  static override flags = {
    port: Flags.integer({summary: 'Port to listen on (0 picks a free one).', default: 8787, min: 0, max: 65535}),
    host: Flags.string({summary: 'Address to listen on.', default: '127.0.0.1'}),
    'forward-interval': Flags.integer({summary: 'Milliseconds between forwarder rounds when nothing kicks it.', default: 1000, min: 10}),
  }

  public async run(): Promise<void> {
    const database = await this.database()
    const app = await startServeApp({
      database,
      host: this.flags.host,
      port: this.flags.port,
      statusWebhookUrl: this.settings.get('BACKEND_STATUS_WEBHOOK_URL'),
      statusWebhookSecret: this.settings.get('BACKEND_STATUS_WEBHOOK_SECRET'),
      forwardIntervalMs: this.flags['forward-interval'],
      twilioWebhook: (serverUrl) => mountTwilioWebhook({database, settings: this.settings, logger: this.logger, serverUrl}),
      logger: this.logger,
    })
    // Listen before announcing: whoever reads the URL may signal at once.
    const stopped = untilSignal()
    try {
      if (this.jsonEnabled()) {
        process.stdout.write(JSON.stringify({url: app.server.url, port: app.server.port, host: app.server.host, ...app.urls, forwarding: app.forwarder !== undefined}) + '\n')
      } else {
        this.logger.info(`engage serve listening on ${app.server.url}`)
        for (const [name, url] of Object.entries(app.urls)) this.logger.info(`  ${name.padEnd(14)} ${url}`)
        this.logger.info(app.forwarder ? 'Forwarding applied statuses to BACKEND_STATUS_WEBHOOK_URL.' : 'BACKEND_STATUS_WEBHOOK_URL is not set: statuses are not forwarded.')
        this.logger.info('Press Ctrl-C to stop.')
      }
      const signal = await stopped
      this.logger.info(`Received ${signal}; stopping.`)
    } finally {
      await app.stop()
    }
  }
}
