import {Flags} from '@oclif/core'
import {BaseCommand} from '../../src/cli/base-command.js'
import {deadLetterFilterFlags} from '../../src/dlq/flags.js'
import {redriveDeadLetters, type DlqRedriveReport} from '../../src/dlq/redrive.js'

export default class DlqRedrive extends BaseCommand<typeof DlqRedrive> {
  static override summary = 'Put dead-lettered send jobs back on the queue, except those whose message was already sent.'
  static override description =
    'For each dead letter the database decides: a job whose message already has a provider id, or a sent/delivered/read/failed/undelivered status, is removed and counted "already sent", never re-enqueued; the others are queued on the main queue first and removed from the dead-letter queue second (a crash in between leaves a harmless duplicate). Jobs that are not send jobs or whose message row is gone stay in the dead-letter queue. Without --queue: the local table, plus the SQS DLQ when SQS_DLQ_URL is set.'

  static override flags = {
    ...deadLetterFilterFlags,
    'dry-run': Flags.boolean({summary: 'Print what would happen; change nothing.', default: false}),
    rate: Flags.integer({summary: 'Re-enqueue at most this many messages per second.', default: 100, min: 1}),
  }

  async run(): Promise<DlqRedriveReport> {
    const settings = {get: (name: string) => this.settings.get(name)}
    const database = await this.database()
    const report = await redriveDeadLetters(database, settings, {
      queue: this.flags.queue,
      tenant: this.flags.tenant,
      dryRun: this.flags['dry-run'],
      rate: this.flags.rate,
      logger: this.logger,
    })
    if (!this.jsonEnabled()) {
      if (report.dryRun) {
        for (const item of report.items) {
          this.log(`${item.queue}\t${item.messageId ?? `(queue id ${item.id})`}\t${item.action === 'redrive' ? 'would redrive' : item.action === 'already-sent' ? `already sent (${item.detail}): would remove` : `would leave: ${item.detail}`}`)
        }
      }
      for (const queue of report.queues) {
        this.log(
          `${queue.display}: ${queue.considered} dead letter(s); ${report.dryRun ? 'would redrive' : 'redriven'} ${queue.redriven}, already sent ${queue.alreadySent}${report.dryRun ? ' (would be removed)' : ' (removed)'}, left ${queue.left}${queue.failed > 0 ? `, failed ${queue.failed} (re-run)` : ''}.${report.dryRun ? ' Dry run: nothing changed.' : ''}`,
        )
      }
    }
    if (report.queues.some((queue) => queue.failed > 0)) {
      if (this.jsonEnabled()) this.logJson(report)
      this.exit(6)
    }
    return report
  }
}
