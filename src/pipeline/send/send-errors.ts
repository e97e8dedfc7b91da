import {EngageError, ProviderError, UsageError} from '../../errors/engage-error.js'

/**
 * What a failed send means for the message:
 * - `permanent`: the provider refused this message for good (Twilio 4xx such
 *   as 21211 invalid To, 21610 unsubscribed, 21614 not mobile, 21408 region
 *   not enabled, 63016; SES MessageRejected, MailFromDomainNotVerified; an
 *   email without subject). The message is failed; the record acknowledged.
 * - `not-sent`: the provider definitely did not create it (429, SES
 *   throttling, a connection refused or a name that did not resolve, or an
 *   account-level refusal such as bad credentials that an operator can fix).
 *   The claim is released and the record retried through the queue.
 * - `unknown`: the request may have reached the provider (5xx, a connection
 *   reset or timed out mid-request, anything unexpected). The claim is kept,
 *   marked for reconciliation; the record is retried and the retry looks at
 *   the provider before it sends.
 */
export type SendFailure =
  | {kind: 'permanent'; errorCode: string; errorMessage: string; reason: string}
  | {kind: 'not-sent'; errorCode: string; errorMessage: string}
  | {kind: 'unknown'; errorCode: string; errorMessage: string}

// Failures raised before any byte of the request left: the provider cannot have the message.
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'])

export function classifySendFailure(error: unknown): SendFailure {
  if (error instanceof ProviderError) {
    const details = error.details ?? {}
    const httpStatus = typeof details.httpStatus === 'number' ? details.httpStatus : undefined
    const twilioCode = typeof details.twilioCode === 'number' ? String(details.twilioCode) : undefined
    const sesError = typeof details.sesError === 'string' ? details.sesError : undefined
    const network = typeof details.networkError === 'string' ? details.networkError : undefined
    const errorCode = twilioCode ?? sesError ?? network ?? error.code
    const described = typeof details.verificationError === 'string' ? details.verificationError : error.message
    if (network) return {kind: NOT_CONNECTED.has(network) ? 'not-sent' : 'unknown', errorCode, errorMessage: error.message}
    if (httpStatus === 429 || sesError === 'Throttling' || sesError === 'ThrottlingException') return {kind: 'not-sent', errorCode, errorMessage: error.message}
    if (httpStatus !== undefined && httpStatus >= 500) return {kind: 'unknown', errorCode, errorMessage: error.message}
    // Bad credentials or an inactive account: every message of the tenant would fail the same way
    // until an operator fixes the settings, so the record goes back to the queue (and, in time, its DLQ).
    if (httpStatus === 401 || httpStatus === 403 || error.code === 'TWILIO_AUTHENTICATE') return {kind: 'not-sent', errorCode, errorMessage: error.message}
    if (details.retryable === true) return {kind: 'unknown', errorCode, errorMessage: error.message}
    if (httpStatus !== undefined || sesError !== undefined) {
      return {kind: 'permanent', errorCode, errorMessage: error.message, reason: sesError ? `${sesError}: ${error.message}` : described}
    }
    return {kind: 'unknown', errorCode, errorMessage: error.message}
  }
  // The provider's own checks before any request (an email without a subject) cannot pass on a retry.
  if (error instanceof UsageError) return {kind: 'permanent', errorCode: error.code, errorMessage: error.message, reason: `${error.code}: ${error.message}`}
  const code = error instanceof EngageError ? error.code : 'SEND_FAILED'
  return {kind: 'unknown', errorCode: code, errorMessage: (error as Error)?.message ?? String(error)}
}
