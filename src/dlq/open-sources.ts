import type {Database} from '../db/database.js'
import {UsageError} from '../errors/engage-error.js'
import {openMessageQueue, type SettingsReader} from '../queue/select-queue.js'
import {localDeadLetters, sqsDeadLetters, type DeadLetterSource, type DlqKind} from './sources.js'

/**
 * The dead-letter queues `engage dlq` works on: `--queue local` or `sqs`,
 * or when omitted the local table plus the SQS DLQ when SQS_DLQ_URL is set.
 * The SQS one needs SQS_DLQ_URL and, to redrive, SQS_QUEUE_URL (its main
 * queue); SQS_ENDPOINT and AWS_REGION apply as for sends.
 */
export async function openDeadLetterSources(database: Database, settings: SettingsReader, queue?: DlqKind): Promise<DeadLetterSource[]> {
  const dlqUrl = settings.get('SQS_DLQ_URL')?.trim()
  const sources: DeadLetterSource[] = []
  if (queue === undefined || queue === 'local') sources.push(localDeadLetters(database))
  if (queue === 'sqs' && !dlqUrl) {
    throw new UsageError('--queue sqs needs SQS_DLQ_URL, the URL of the dead-letter queue.', {
      code: 'SQS_DLQ_URL_MISSING',
      suggestions: ['Set SQS_DLQ_URL (`engage deploy local` or the stack outputs print it), or use --queue local.'],
    })
  }
  if ((queue === undefined || queue === 'sqs') && dlqUrl) {
    if (!settings.get('SQS_QUEUE_URL')?.trim()) {
      throw new UsageError('SQS_DLQ_URL is set but SQS_QUEUE_URL, the queue its messages go back to, is not.', {
        code: 'SQS_QUEUE_URL_MISSING',
        suggestions: ['Set SQS_QUEUE_URL to the main queue URL, or use --queue local.'],
      })
    }
    const sqsSettings = (overrides: Record<string, string | undefined>): SettingsReader => ({
      get: (name) => (name in overrides ? overrides[name] : settings.get(name)),
    })
    const main = await openMessageQueue(database, sqsSettings({USE_AWS_QUEUE: 'true'}))
    const dlq = await openMessageQueue(database, sqsSettings({USE_AWS_QUEUE: 'true', SQS_QUEUE_URL: dlqUrl, SQS_DLQ_URL: undefined}))
    sources.push(sqsDeadLetters(dlq.queue, main.queue, `SQS dead-letter queue ${dlqUrl}`))
  }
  return sources
}
