import type {Logger} from '../cli/logger.js'
import type {Keyring} from '../crypto/encryption-key.js'
import {inWriteTransaction, type Database} from '../db/database.js'
import {UsageError} from '../errors/engage-error.js'
import {createTenant, findTenant} from '../tenants/tenant-repository.js'
import {assertEmailAddress} from '../validation/email.js'
import {sealCredentials} from './credentials.js'
import {redact} from './redact.js'
import {checkSeedTarget, type SeededChannel} from './seed-twilio.js'
import {upsertChannelSettings} from './settings-repository.js'

/** Everything `seed ses` needs, gathered from flags and the environment. */
export interface SesSeedInput {
  tenant: string
  createTenantName?: string
  from: string
  region: string
  configurationSet?: string
  /** Both or neither: neither means the sender uses its IAM role and nothing is stored. */
  accessKeyId?: string
  secretAccessKey?: string
}

export interface SesSeedResult {
  tenant: {id: string; slug: string; name: string; created: boolean}
  channel: SeededChannel
  credentials: 'stored' | 'iam-role'
}

const REGION = /^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$/
const CONFIGURATION_SET = /^[A-Za-z0-9_-]{1,64}$/
const ACCESS_KEY_ID = /^[A-Z0-9]{16,128}$/

/** Shape checks for a SES seed, before the database or AWS is touched. */
export function normaliseSesSeedInput(input: SesSeedInput): SesSeedInput {
  const region = input.region.trim()
  if (!REGION.test(region)) {
    throw new UsageError(`"${region}" is not an AWS region name.`, {
      code: 'INVALID_REGION',
      suggestions: ['Pass --region us-east-1 (or set AWS_REGION).'],
    })
  }
  const configurationSet = input.configurationSet?.trim() || undefined
  if (configurationSet !== undefined && !CONFIGURATION_SET.test(configurationSet)) {
    throw new UsageError('--configuration-set must be 1–64 letters, digits, hyphens or underscores.', {code: 'INVALID_CONFIGURATION_SET'})
  }
  const accessKeyId = input.accessKeyId?.trim() || undefined
  const secretAccessKey = input.secretAccessKey?.trim() || undefined
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    throw new UsageError('AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together, or both left unset to use an IAM role.', {
      code: 'INCOMPLETE_AWS_CREDENTIALS',
      suggestions: [`Set ${accessKeyId === undefined ? 'AWS_ACCESS_KEY_ID' : 'AWS_SECRET_ACCESS_KEY'} as well, or unset both.`],
    })
  }
  if (accessKeyId !== undefined && !ACCESS_KEY_ID.test(accessKeyId)) {
    throw new UsageError('AWS_ACCESS_KEY_ID is not an access key id (16+ upper-case letters and digits).', {code: 'INVALID_ACCESS_KEY_ID'})
  }
  return {
    ...input,
    createTenantName: input.createTenantName?.trim(),
    from: assertEmailAddress(input.from, '--from'),
    region,
    configurationSet,
    accessKeyId,
    secretAccessKey,
  }
}

/**
 * Stores the SES settings of a tenant's email channel in the unified table,
 * one row per tenant, updated in place on re-runs. With access keys the
 * credentials are encrypted; without, credentials_encrypted is NULL and the
 * sender uses the ambient IAM role. SES rows are not verified here (is_verified 0).
 * `keyring` is called only when there are keys to encrypt.
 */
export async function seedSes(
  database: Database,
  keyring: () => Keyring,
  rawInput: SesSeedInput,
  logger: Logger,
): Promise<SesSeedResult> {
  const input = normaliseSesSeedInput(rawInput)
  // Only stored keys need ENCRYPTION_KEY; an IAM-role row can be seeded without it.
  const keys = input.accessKeyId === undefined ? undefined : keyring()
  await checkSeedTarget(database, input.tenant, input.createTenantName)
  if (input.accessKeyId === undefined) logger.info('No AWS access key in the environment: the email channel will use the IAM role of its sender.')
  return inWriteTransaction(database, async (trx) => {
    const now = new Date().toISOString()
    let tenant = await findTenant(trx, input.tenant)
    let created = false
    if (!tenant) {
      tenant = await createTenant(trx, {slug: input.tenant, name: input.createTenantName ?? input.tenant, now})
      created = true
    }
    const providerConfig: Record<string, unknown> = {region: input.region}
    if (input.configurationSet) providerConfig.configurationSet = input.configurationSet
    if (input.accessKeyId) providerConfig.accessKeyId = input.accessKeyId
    const written = await upsertChannelSettings(trx, {
      tenantId: tenant.id,
      channel: 'email',
      provider: 'ses',
      sender: input.from,
      providerConfig,
      credentialsEncrypted:
        keys && input.accessKeyId && input.secretAccessKey
          ? sealCredentials(keys, tenant.id, 'email', {accessKeyId: input.accessKeyId, secretAccessKey: input.secretAccessKey, region: input.region})
          : null,
      messagingServiceSid: null,
      isVerified: false,
      verifiedAt: null,
      verificationError: null,
      now,
    })
    return {
      tenant: {id: tenant.id, slug: tenant.slug, name: tenant.name, created},
      credentials: input.accessKeyId ? 'stored' : 'iam-role',
      channel: {
        id: written.row.id,
        channel: 'email',
        provider: 'ses',
        action: written.action,
        sender: input.from,
        accessKeyId: redact(input.accessKeyId),
        region: input.region,
        configurationSet: input.configurationSet ?? null,
        webhookUrl: written.row.webhook_url,
        isEnabled: Number(written.row.is_enabled) === 1,
        isVerified: false,
        verifiedAt: null,
        credentialsKeyId: keys ? keys.current.id : null,
      },
    }
  })
}
