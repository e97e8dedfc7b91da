import type {Logger} from '../cli/logger.js'
import type {Database} from '../db/database.js'
import {forwardStatusEvents, type ForwardResult} from './forwarder.js'

/**
 * One forwarding run for a process configured by environment (the Lambdas):
 * BACKEND_STATUS_WEBHOOK_URL and BACKEND_STATUS_WEBHOOK_SECRET name the
 * backend. Undefined when no backend is configured; a half configuration is
 * an error, since statuses would silently never reach the backend.
 */
export async function forwardToConfiguredBackend(
  database: Database,
  get: (name: string) => string | undefined,
  options: {logger?: Logger; deadline?: number} = {},
): Promise<ForwardResult | undefined> {
  const url = get('BACKEND_STATUS_WEBHOOK_URL')?.trim()
  const secret = get('BACKEND_STATUS_WEBHOOK_SECRET')?.trim()
  if (!url && !secret) return undefined
  if (!url || !secret) {
    throw new Error(`${url ? 'BACKEND_STATUS_WEBHOOK_SECRET' : 'BACKEND_STATUS_WEBHOOK_URL'} is not set: both are needed to forward statuses to the backend.`)
  }
  const result = await forwardStatusEvents({database, url, secret, deadline: options.deadline})
  if (result.failed > 0) options.logger?.warn(`Backend status webhook: ${result.failed} deliveries failed; ${result.pending} waiting for a retry.`)
  return result
}
