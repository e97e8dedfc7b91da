import type {SESClient} from '@aws-sdk/client-ses'
import {ProviderError, UsageError} from '../../errors/engage-error.js'
import type {MessageProvider, OutboundMessage, SendResult} from '../message-provider.js'

export interface SesProviderConfig {
  /** The From address (the settings row's sender). */
  from: string
  region: string
  configurationSet?: string
  /** Stored keys; absent means the SDK's default chain (the Lambda's IAM role). */
  credentials?: {accessKeyId: string; secretAccessKey: string}
  /** SES_ENDPOINT: a local emulator (aws-ses-v2-local) instead of AWS. */
  endpoint?: string
  verified: boolean
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH'])

/**
 * Amazon SES (v1 SendEmail) for one tenant's email channel. The AWS SDK is
 * imported on the first send, so commands that never email do not load it;
 * the client is then reused for every message.
 */
export class SesProvider implements MessageProvider {
  readonly provider = 'ses' as const
  readonly channel = 'email' as const
  private client?: Promise<{client: SESClient; SendEmailCommand: typeof import('@aws-sdk/client-ses').SendEmailCommand}>

  constructor(private readonly config: SesProviderConfig) {}

  get verified(): boolean {
    return this.config.verified
  }

  private sdk() {
    this.client ??= import('@aws-sdk/client-ses').then(({SESClient, SendEmailCommand}) => ({
      client: new SESClient({
        region: this.config.region,
        ...(this.config.endpoint ? {endpoint: this.config.endpoint} : {}),
        ...(this.config.credentials ? {credentials: this.config.credentials} : {}),
      }),
      SendEmailCommand,
    }))
    return this.client
  }

  async send(message: OutboundMessage): Promise<SendResult> {
    if (!message.subject) {
      throw new UsageError('An email needs a subject.', {code: 'EMAIL_SUBJECT_REQUIRED', suggestions: ['Give the campaign a subject.']})
    }
    const {client, SendEmailCommand} = await this.sdk()
    try {
      const result = await client.send(
        new SendEmailCommand({
          Source: this.config.from,
          Destination: {ToAddresses: [message.to]},
          Message: {Subject: {Data: message.subject, Charset: 'UTF-8'}, Body: {Text: {Data: message.body, Charset: 'UTF-8'}}},
          ...(this.config.configurationSet ? {ConfigurationSetName: this.config.configurationSet} : {}),
        }),
      )
      if (!result.MessageId) throw new Error('SES answered without a MessageId')
      return {providerMessageId: result.MessageId, status: 'accepted'}
    } catch (error) {
      throw sesError(error, this.config.endpoint)
    }
  }
}

function sesError(error: unknown, endpoint: string | undefined): ProviderError {
  const code = (error as {code?: string})?.code
  if (code && NETWORK_CODES.has(code)) {
    return new ProviderError(`SES is unreachable at ${endpoint ?? 'AWS'} (${code}).`, {
      code: 'SES_UNREACHABLE',
      suggestions: ['Check the network, the region and SES_ENDPOINT if set.'],
      details: {networkError: code, retryable: true},
    })
  }
  const name = (error as {name?: string})?.name ?? 'Error'
  const status = (error as {$metadata?: {httpStatusCode?: number}})?.$metadata?.httpStatusCode
  const retryable = name === 'Throttling' || name === 'ThrottlingException' || (status !== undefined && status >= 500)
  return new ProviderError(`SES refused the email: ${name}: ${(error as Error)?.message ?? String(error)}`, {
    code: 'SES_REQUEST_FAILED',
    suggestions: ['Check that the From identity is verified in this region and the account is out of the sandbox.'],
    details: {sesError: name, httpStatus: status, retryable},
  })
}
