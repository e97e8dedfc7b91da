/**
 * Shows an identifier so an operator can recognise it without the whole value
 * being printed: the first four and last four characters (`AC12…89ab`).
 * Values too short to keep eight characters and still hide something are
 * reduced to `…` entirely. Secrets (tokens, keys) are never passed here: they
 * are not shown at all.
 */
export function redact(value: string | null | undefined): string | null {
  if (value === null || value === undefined || value === '') return null
  if (value.length <= 12) return '…'
  return `${value.slice(0, 4)}…${value.slice(-4)}`
}
