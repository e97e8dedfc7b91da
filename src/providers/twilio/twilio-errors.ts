import {ProviderError} from '../../errors/engage-error.js'

/** The part of the SDK's RestException engage reads: Twilio's numeric code, its message, the HTTP status. */
export interface TwilioRestFailure {
  status: number
  code?: number
  message: string
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE'])

export function isTwilioRestFailure(error: unknown): error is TwilioRestFailure {
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as {status?: unknown}).status === 'number' &&
    typeof (error as {message?: unknown}).message === 'string' &&
    // Axios errors carry `.status` too, but also `.isAxiosError`; a RestException does not.
    !(error as {isAxiosError?: unknown}).isAxiosError
  )
}

/** The network error code of a failed request (ECONNREFUSED, …), if the failure was the network's. */
export function networkErrorCode(error: unknown): string | undefined {
  const code = (error as {code?: unknown})?.code
  return typeof code === 'string' && NETWORK_CODES.has(code) ? code : undefined
}

/** "20003: Authenticate": the form verification_error and messages use. */
export function describeTwilioFailure(failure: TwilioRestFailure): string {
  return failure.code === undefined ? `HTTP ${failure.status}: ${failure.message}` : `${failure.code}: ${failure.message}`
}

/**
 * Turns whatever the SDK threw into a ProviderError. Axios errors are not kept
 * as `cause`: their request config holds the Basic-auth credentials.
 */
export function toProviderError(error: unknown, doing: string, baseUrl: string | undefined): ProviderError {
  // `doing` reads as "fetching account AC12…89ab".
  const where = baseUrl ?? 'https://api.twilio.com'
  if (isTwilioRestFailure(error)) {
    const described = describeTwilioFailure(error)
    return new ProviderError(`Twilio answered ${described} (${doing}).`, {
      code: error.code === 20003 ? 'TWILIO_AUTHENTICATE' : 'TWILIO_REQUEST_FAILED',
      suggestions:
        error.code === 20003
          ? ['Check the account SID and the auth token (TWILIO_AUTH_TOKEN, --auth-token-stdin or the prompt).']
          : ['See https://www.twilio.com/docs/errors/' + (error.code ?? '') + ' for what the code means.'],
      details: {twilioCode: error.code, httpStatus: error.status, verificationError: described, retryable: error.status === 429 || error.status >= 500},
    })
  }
  const network = networkErrorCode(error)
  if (network) {
    return new ProviderError(`Twilio is unreachable at ${where}: ${network} (${doing}).`, {
      code: 'TWILIO_UNREACHABLE',
      suggestions: ['Check the network and TWILIO_API_BASE_URL, or pass --no-verify to store the settings unverified.'],
      details: {networkError: network, verificationError: `unreachable: ${network}`, retryable: true},
    })
  }
  return new ProviderError(`Twilio request failed (${doing}): ${(error as Error)?.message ?? String(error)}`, {
    code: 'TWILIO_REQUEST_FAILED',
    suggestions: ['Re-run with --log-level debug; check TWILIO_API_BASE_URL if set.'],
    details: {retryable: false},
  })
}
