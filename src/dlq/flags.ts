import {Flags} from '@oclif/core'

/** The filters `engage dlq list` and `engage dlq redrive` both take, so the two pick dead letters the same way. */
export const deadLetterFilterFlags = {
  tenant: Flags.string({summary: 'Tenant slug or id: only its dead letters.'}),
  queue: Flags.option({options: ['local', 'sqs'] as const, summary: 'Only this dead-letter queue.'})(),
}
