import {UsageError} from '../../errors/engage-error.js'
import {normalizeWhatsAppAddress, validateRecipient, type MessagingChannel} from '../../messaging/recipients.js'

/** Where test recipients come from when `--to` is not given: one comma-separated setting per channel. */
export const RECIPIENT_SETTINGS: Record<MessagingChannel, string> = {
  sms: 'TEST_RECIPIENTS_SMS',
  whatsapp: 'TEST_RECIPIENTS_WHATSAPP',
  email: 'TEST_RECIPIENTS_EMAIL',
}

export type RecipientsByChannel = Record<MessagingChannel, string[]>

/**
 * The test recipients per channel. `to` wins over the settings: an address
 * with `@` goes to email, `whatsapp:+…` to WhatsApp only, a bare E.164
 * number to SMS and WhatsApp. Without `to`, TEST_RECIPIENTS_SMS,
 * TEST_RECIPIENTS_WHATSAPP and TEST_RECIPIENTS_EMAIL (comma-separated) are
 * read. Every address is validated for its channel; one bad address refuses
 * the run, naming it. WhatsApp addresses are stored bare, as campaign send
 * stores them.
 */
export function resolveRecipients(to: string[] | undefined, settings: {get(name: string): string | undefined}): RecipientsByChannel {
  const result: RecipientsByChannel = {sms: [], whatsapp: [], email: []}
  const add = (channel: MessagingChannel, raw: string, origin: string) => {
    const reason = validateRecipient(channel, raw)
    if (reason) {
      throw new UsageError(`Test recipient "${raw.slice(0, 100)}" (${origin}) is not a valid ${channel} address: ${reason}`, {
        code: 'VERIFY_RECIPIENT_INVALID',
        suggestions: ['Pass E.164 numbers (+15555550100), whatsapp:+… or email addresses.'],
      })
    }
    const address = channel === 'whatsapp' ? normalizeWhatsAppAddress(raw)!.slice('whatsapp:'.length) : raw
    if (!result[channel].includes(address)) result[channel].push(address)
  }
  const given = (to ?? []).flatMap((value) => value.split(',')).map((value) => value.trim()).filter(Boolean)
  if (given.length > 0) {
    for (const raw of given) {
      if (raw.includes('@')) add('email', raw, '--to')
      else if (raw.toLowerCase().startsWith('whatsapp:')) add('whatsapp', raw, '--to')
      else {
        add('sms', raw, '--to')
        add('whatsapp', raw, '--to')
      }
    }
    return result
  }
  for (const [channel, name] of Object.entries(RECIPIENT_SETTINGS) as Array<[MessagingChannel, string]>) {
    for (const raw of (settings.get(name) ?? '').split(',').map((value) => value.trim()).filter(Boolean)) add(channel, raw, name)
  }
  return result
}
