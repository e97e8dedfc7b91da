import {Flags} from '@oclif/core'
import {BaseCommand} from '../../src/cli/base-command.js'
import {TWILIO_API_BASE_URL} from '../../src/providers/twilio/twilio-client.js'
import {loadSeedFile, writeSeedFile} from '../../src/twilio-sandbox/seed-file.js'
import {startTwilioSandbox} from '../../src/twilio-sandbox/server.js'
import {untilSignal} from '../../src/cli/until-signal.js'

export default class SandboxTwilio extends BaseCommand<typeof SandboxTwilio> {
  static override summary = 'Run a local Twilio-compatible API sandbox until Ctrl-C.'
  static override description = `Serves the part of Twilio's REST API engage uses (accounts, messaging services and their numbers, messages) on 127.0.0.1, with basic auth, Twilio's error codes, signed status callbacks, fault injection and send counters (control plane under /_sandbox). Point engage at it with ${TWILIO_API_BASE_URL}. Without --seed it starts with one generated active account and service; --write-seed saves that seed so you can use its auth token. Seed files hold auth tokens: keep them secret (mode 600, out of version control). Tokens are never printed, only redacted.`
  static override examples = [
    '<%= config.bin %> sandbox twilio --port 4010',
    '<%= config.bin %> sandbox twilio --seed ./twilio-seed.json --print-env',
    '<%= config.bin %> sandbox twilio --write-seed ./twilio-seed.json',
  ]

  static override flags = {
    port: Flags.integer({summary: 'Port to listen on (0 picks a free one).', default: 0, min: 0, max: 65535}),
    seed: Flags.string({summary: 'JSON file with the accounts and services to start with (secret: it holds auth tokens).', helpValue: 'FILE', exclusive: ['write-seed']}),
    'write-seed': Flags.string({summary: 'Save the generated seed, tokens included, to this new file (mode 600).', helpValue: 'FILE'}),
    'print-env': Flags.boolean({summary: `Print only ${TWILIO_API_BASE_URL}=URL on stdout.`}),
  }

  public async run(): Promise<void> {
    const loaded = this.flags.seed ? await loadSeedFile(this.flags.seed) : undefined
    if (loaded?.readableByOthers) this.logger.warn(`${this.flags.seed} is readable by other users and holds auth tokens; chmod 600 it.`)
    const sandbox = await startTwilioSandbox({port: this.flags.port, seed: loaded?.seed})
    // Listen before printing the URL: whoever reads it may signal at once.
    const stopped = untilSignal()
    try {
      if (this.flags['write-seed']) await writeSeedFile(this.flags['write-seed'], sandbox.initialSeed)
      const summary = await sandbox.summary()
      if (this.jsonEnabled()) this.logJson({url: sandbox.url, port: sandbox.port, ...summary})
      else if (this.flags['print-env']) this.log(`${TWILIO_API_BASE_URL}=${sandbox.url}`)
      else {
        this.log(`Twilio sandbox listening on ${sandbox.url}`)
        for (const account of summary.accounts) this.log(`account ${account.sid} ${account.status} token ${account.authToken} "${account.friendlyName}"`)
        for (const service of summary.services) this.log(`service ${service.sid} of ${service.accountSid} senders ${service.phoneNumbers.join(', ')}`)
      }
      this.logger.info('Press Ctrl-C to stop.')
      const signal = await stopped
      this.logger.info(`Received ${signal}; stopping the Twilio sandbox.`)
    } finally {
      await sandbox.stop()
    }
  }
}
