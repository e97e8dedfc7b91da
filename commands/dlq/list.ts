import {BaseCommand} from '../../src/cli/base-command.js'
import {deadLetterFilterFlags} from '../../src/dlq/flags.js'
import {listDeadLetters, type DeadLetterListing} from '../../src/dlq/list.js'

export default class DlqList extends BaseCommand<typeof DlqList> {
  static override summary = 'List dead-lettered send jobs: the local dead-letter table and the SQS DLQ (SQS_DLQ_URL).'
  static override description =
    'One line per dead letter: queue, message id, tenant, campaign, receive count, reason and age. Without --queue: the local table, plus the SQS DLQ when SQS_DLQ_URL is set. Reading SQS receives the messages and releases them right after (their receive count goes up by one).'

  static override flags = deadLetterFilterFlags

  async run(): Promise<{deadLetters: DeadLetterListing[]}> {
    const settings = {get: (name: string) => this.settings.get(name)}
    const database = await this.database()
    const deadLetters = await listDeadLetters(database, settings, {queue: this.flags.queue, tenant: this.flags.tenant})
    if (!this.jsonEnabled()) {
      if (deadLetters.length === 0) this.logger.info('No dead letters.')
      else {
        this.log(['QUEUE', 'MESSAGE', 'TENANT', 'CAMPAIGN', 'RECEIVES', 'REASON', 'AGE'].join('\t'))
        for (const entry of deadLetters) {
          this.log(
            [entry.queue, entry.messageId ?? `(queue id ${entry.id})`, entry.tenantId ?? '-', entry.campaignId ?? '-', entry.receiveCount, entry.reason ?? '-', age(entry.ageSeconds)].join('\t'),
          )
        }
      }
    }
    return {deadLetters}
  }
}

function age(seconds: number): string {
  if (seconds < 120) return `${seconds}s`
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`
  if (seconds < 172_800) return `${Math.round(seconds / 3600)}h`
  return `${Math.round(seconds / 86_400)}d`
}
