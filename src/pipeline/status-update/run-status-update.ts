import type {Logger} from '../../cli/logger.js'
import type {Keyring} from '../../crypto/encryption-key.js'
import type {Database} from '../../db/database.js'
import {advanceMockMessages, mockChannels} from './mock-advance.js'
import {reconcileStaleMessages} from './reconcile.js'

export const DEFAULT_STALE_AFTER_MS = 10 * 60 * 1000
/** Per tick and per kind of work: a tick must end well inside the Lambda's 55 s. */
export const DEFAULT_TICK_LIMIT = 500

export interface StatusUpdateDeps {
  database: Database
  keyring: Keyring
  get: (name: string) => string | undefined
  now?: () => Date
  /** A message in a non-final status not updated for this long is fetched from the provider (default 10 min). */
  staleAfterMs?: number
  /** Mock mode: advance mock-provider messages. Defaults to MOCK_PROVIDER (true/1/yes). */
  mock?: boolean
  limit?: number
  logger?: Logger
  /** Told the ids of the status events this tick applied (the backend forwarder's wake-up). */
  onApplied?: (eventIds: number[]) => void
}

export interface StatusUpdateResult {
  /** Mock messages moved one step. */
  advanced: number
  /** Stale messages whose status moved after asking the provider. */
  reconciled: number
  errors: number
  /** Stale messages the provider was asked about. */
  checked: number
}

/**
 * One run of UpdateMessageStatus (every minute on EventBridge; locally on a
 * timer). In mock mode, each message of a mock-provider channel — one whose
 * provider_config_json has `"mock": true` — moves one step along
 * queued → sent → delivered (→ read on WhatsApp). In every mode, Twilio
 * messages stuck in queued/sending/sent longer than `staleAfterMs` are
 * fetched from Twilio through the provider factory and their status recorded
 * (source `reconcile`). Mock channels are never fetched.
 */
export async function runStatusUpdate(deps: StatusUpdateDeps): Promise<StatusUpdateResult> {
  const now = (deps.now ?? (() => new Date()))()
  const at = now.toISOString()
  const limit = deps.limit ?? DEFAULT_TICK_LIMIT
  const mockMode = deps.mock ?? /^(1|true|yes)$/i.test(deps.get('MOCK_PROVIDER') ?? '')
  const mocks = await mockChannels(deps.database.db)

  const advancedIds = mockMode && mocks.length > 0 ? await advanceMockMessages(deps.database, mocks, {at, limit}) : []
  const reconcile = await reconcileStaleMessages(deps.database, {
    keyring: deps.keyring,
    get: deps.get,
    staleBefore: new Date(now.getTime() - (deps.staleAfterMs ?? DEFAULT_STALE_AFTER_MS)).toISOString(),
    at,
    limit,
    skip: mocks,
    logger: deps.logger,
  })
  const eventIds = [...advancedIds, ...reconcile.eventIds]
  if (eventIds.length > 0) deps.onApplied?.(eventIds)
  return {advanced: advancedIds.length, reconciled: reconcile.reconciled, errors: reconcile.errors, checked: reconcile.checked}
}
