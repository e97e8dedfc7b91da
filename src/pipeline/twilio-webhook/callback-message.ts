import {PreparedQuery} from '../../db/prepared-query.js'
import {step, type QuerySteps} from '../../db/query-steps.js'
import type {SettingsCredentials} from './auth-tokens.js'

/** The message a callback names, with the credentials of its tenant's Twilio row for its channel (null columns when there is none). */
export interface CallbackMessage {
  id: string
  tenant_id: string
  channel: string
  /** The message's status when the callback's transaction read it. */
  status: string
  settings_id: number | null
  credentials_encrypted: string | null
}

// The messages holding the SID (one: a SID names one message) and, in the same statement, the settings
// row whose token must have signed the callback ((tenant_id, channel) is unique). No ORDER BY … LIMIT 1:
// the sort cost more than the lookup; should two messages ever share a SID, the lowest id is taken here.
const MESSAGE_WITH_CREDENTIALS = new PreparedQuery<{sid: string}, CallbackMessage>((db, param) =>
  db
    .selectFrom('messages as m')
    .leftJoin('tenant_channel_settings as s', (join) =>
      join.onRef('s.tenant_id', '=', 'm.tenant_id').onRef('s.channel', '=', 'm.channel').on('s.provider', '=', 'twilio'),
    )
    .select(['m.id', 'm.tenant_id', 'm.channel', 'm.status', 's.id as settings_id', 's.credentials_encrypted'])
    .where('m.provider_message_id', '=', param('sid')),
)

/**
 * The message holding this Twilio SID and its tenant's Twilio credentials,
 * read fresh on every callback (one indexed statement, inside the callback's
 * write transaction), or undefined when no message holds the SID yet.
 */
export function* findCallbackMessage(sid: string): QuerySteps<CallbackMessage | undefined> {
  const {rows} = yield* step(MESSAGE_WITH_CREDENTIALS, {sid})
  let first = rows[0]
  for (const row of rows) if (row.id < first!.id) first = row
  return first
}

/** The settings row of a found message, as TwilioAuthTokens opens it; undefined when the tenant has no Twilio row for the channel. */
export function settingsOf(message: CallbackMessage): SettingsCredentials | undefined {
  if (message.settings_id === null) return undefined
  // The join matched the row on the message's channel, so it is one of the row's channels.
  const channel = message.channel as SettingsCredentials['channel']
  return {id: Number(message.settings_id), tenant_id: message.tenant_id, channel, credentials_encrypted: message.credentials_encrypted}
}
