import {hostname, userInfo} from 'node:os'
import type {Settings} from '../config/env.js'

/**
 * Who applies a migration, for the `applied_by` column: ENGAGE_OPERATOR when
 * set (CI jobs name themselves), else `user@hostname`.
 */
export function operatorName(settings: Settings): string {
  const configured = settings.get('ENGAGE_OPERATOR')?.trim()
  if (configured) return configured
  let user: string
  try {
    user = userInfo().username
  } catch {
    // Containers may run as a uid with no passwd entry.
    user = process.env.USER ?? process.env.LOGNAME ?? `uid${process.getuid?.() ?? '?'}`
  }
  return `${user}@${hostname()}`
}
