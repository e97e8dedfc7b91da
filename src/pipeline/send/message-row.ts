import type {Kysely} from 'kysely'
import type {Channel} from '../../channel-settings/settings-repository.js'

/** The columns of a `messages` row the sender reads, with its campaign's content. */
export interface SendableMessage {
  id: string
  tenant_id: string
  campaign_id: string | null
  channel: Channel
  to_address: string
  status: string
  provider_message_id: string | null
  attempts: number
  send_claim_id: string | null
  send_claimed_at: string | null
  /** When the row was written: no provider call for it can be older. */
  created_at: string
  /** The campaign's body and subject: a message row carries no content of its own. */
  body: string | null
  subject: string | null
}

/**
 * One message with its campaign's body and subject, or undefined when the
 * row does not exist. Pass a transaction to read inside it; on PostgreSQL,
 * `lock` takes the row lock the claim needs (SQLite's BEGIN IMMEDIATE already
 * holds the database's write lock).
 */
export async function loadSendableMessage(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  db: Kysely<any>,
  messageId: string,
  options: {lock?: boolean} = {},
): Promise<SendableMessage | undefined> {
  let query = db
    .selectFrom('messages as m')
    .leftJoin('campaigns as c', 'c.id', 'm.campaign_id')
    .select([
      'm.id',
      'm.tenant_id',
      'm.campaign_id',
      'm.channel',
      'm.to_address',
      'm.status',
      'm.provider_message_id',
      'm.attempts',
      'm.send_claim_id',
      'm.send_claimed_at',
      'm.created_at',
      'c.body as body',
      'c.subject as subject',
    ])
    .where('m.id', '=', messageId)
  if (options.lock) query = query.forUpdate('m')
  const row = await query.executeTakeFirst()
  if (!row) return undefined
  return {...(row as SendableMessage), attempts: Number((row as SendableMessage).attempts)}
}
