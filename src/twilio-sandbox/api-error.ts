/**
 * An error answered the way Twilio's REST API answers it: an HTTP status and
 * the JSON body `{code, message, more_info, status}` that the SDK turns into a
 * `RestException` (with `.code`, `.status`, `.moreInfo`).
 */
export class TwilioApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
  ) {
    super(message)
    this.name = 'TwilioApiError'
  }

  toBody(): TwilioErrorBody {
    return {code: this.code, message: this.message, more_info: `https://www.twilio.com/docs/errors/${this.code}`, status: this.status}
  }
}

export interface TwilioErrorBody {
  code: number
  message: string
  more_info: string
  status: number
}

/** The errors the sandbox answers, with Twilio's codes and wording. */
export const twilioErrors = {
  authenticate: () => new TwilioApiError(401, 20003, 'Authenticate'),
  notFound: (path: string) => new TwilioApiError(404, 20404, `The requested resource ${path} was not found`),
  accountNotActive: () => new TwilioApiError(403, 10001, 'Account is not active'),
  tooManyRequests: () => new TwilioApiError(429, 20429, 'Too Many Requests'),
  internal: () => new TwilioApiError(500, 20500, 'Internal Server Error'),
  toRequired: () => new TwilioApiError(400, 21604, "A 'To' phone number is required."),
  invalidTo: (to: string) => new TwilioApiError(400, 21211, `Invalid 'To' Phone Number: ${to}`),
  fromRequired: () => new TwilioApiError(400, 21603, "A 'From' phone number is required."),
  invalidFrom: (from: string) =>
    new TwilioApiError(400, 21606, `The From phone number ${from} is not a valid, SMS-capable inbound phone number or short code for your account.`),
  unknownChannelFrom: () => new TwilioApiError(400, 63007, 'Twilio could not find a Channel with the specified From address'),
  channelMismatch: () => new TwilioApiError(400, 21910, 'Invalid From and To pair. From and To should be of the same channel'),
  bodyRequired: () => new TwilioApiError(400, 21602, 'Message body is required.'),
  invalidService: (sid: string) => new TwilioApiError(400, 21705, `Invalid Messaging Service Sid ${sid}`),
  optedOut: () => new TwilioApiError(400, 21610, 'Attempt to send to unsubscribed recipient'),
  rejected: (code: number) => new TwilioApiError(400, code, `Message rejected by the sandbox for this recipient (error ${code})`),
} as const

/** Human wording for delivery error codes reported in callbacks and on the message. */
export const DELIVERY_ERROR_MESSAGES: Record<number, string> = {
  30003: 'Unreachable destination handset',
  30005: 'Unknown destination handset',
  30006: 'Landline or unreachable carrier',
  30007: 'Message filtered',
  30008: 'Unknown error',
  63016: 'Failed to send freeform message because you are outside the allowed window. Please use a Template.',
}
