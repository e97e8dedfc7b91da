import {Settings} from '../config/env.js'
import type {Logger} from '../cli/logger.js'
import {Keyring} from '../crypto/encryption-key.js'
import {openDatabase, type Database} from '../db/database.js'
import {DatabaseError, EncryptionError, MigrationError, ProviderError, UsageError} from '../errors/engage-error.js'
import {checkKeys} from '../keys/check.js'
import {createMigrator} from '../migrate/migrator.js'
import {LocalQueue} from '../queue/local/local-queue.js'
import {createSqsClient, SqsQueue} from '../queue/sqs/sqs-queue.js'
import type {DoctorCheck} from './types.js'

const message = (error: unknown) => (error as Error)?.message ?? String(error)

export async function checkDatabase(url: string): Promise<{check: DoctorCheck; database?: Database}> {
  const name = 'Database reachable'
  try {
    const database = await openDatabase(url)
    await database.db.selectFrom('tenants').select('id').limit(1).execute().catch(async () => {
      // An empty, unmigrated database is reachable: migrations report the rest.
      await database.db.introspection.getTables()
    })
    return {check: {name, ok: true, detail: database.target.display}, database}
  } catch (error) {
    return {check: {name, ok: false, detail: message(error), fix: 'Check DATABASE_URL (or --database-url) and that the server is up; `engage migrate up` creates a SQLite file.', failsAs: DatabaseError}}
  }
}

export async function checkMigrations(database: Database, settings: Settings, logger: Logger): Promise<DoctorCheck> {
  const name = 'Migrations current'
  try {
    const status = await createMigrator({database, settings, logger}).status()
    const {applied, pending, drifted} = status.summary
    if (pending === 0 && drifted === 0) return {name, ok: true, detail: `${applied} applied, none pending`}
    const pendingNames = status.migrations.filter((entry) => entry.state === 'pending').map((entry) => entry.name)
    return {
      name,
      ok: false,
      detail: `${pending} pending${pendingNames.length ? ` (${pendingNames.join(', ')})` : ''}, ${drifted} drifted`,
      fix: drifted > 0 ? '`engage migrate status` names the drifted migrations: restore their code or resolve them before `migrate up`.' : 'Run `engage migrate up`.',
      failsAs: MigrationError,
    }
  } catch (error) {
    return {name, ok: false, detail: message(error), fix: 'Run `engage migrate status` for details.', failsAs: MigrationError}
  }
}

export async function checkEncryptionKey(database: Database | undefined, get: (name: string) => string | undefined): Promise<{check: DoctorCheck; keyring?: Keyring}> {
  const name = 'ENCRYPTION_KEY decrypts every stored value'
  let keyring: Keyring
  try {
    keyring = Keyring.fromSettings(get)
  } catch (error) {
    return {check: {name, ok: false, detail: message(error), fix: 'Set ENCRYPTION_KEY (64 hex characters or base64 of 32 bytes); `engage keys generate` makes one.', failsAs: EncryptionError}}
  }
  if (!database) return {check: {name, ok: false, detail: 'The key parses, but the database is unreachable.', fix: 'Fix the database first.', failsAs: EncryptionError}, keyring}
  try {
    const report = await checkKeys(database, keyring)
    if (report.failures.length === 0) return {check: {name, ok: true, detail: `${report.total} value(s) decrypt with key ${report.currentKeyId}${report.notCurrent ? `, ${report.notCurrent} under a previous key` : ''}`}, keyring}
    const where = report.failures.slice(0, 5).map((failure) => `${failure.table}.${failure.column} id ${failure.id}`)
    return {check: {name, ok: false, detail: `${report.failures.length} value(s) do not decrypt: ${where.join(', ')}`, fix: 'Run `engage keys check` for the list; set the right ENCRYPTION_KEY (or ENCRYPTION_KEY_PREVIOUS during a rotation).', failsAs: EncryptionError}, keyring}
  } catch (error) {
    return {check: {name, ok: false, detail: message(error), fix: 'Run `engage keys check` for details.', failsAs: EncryptionError}, keyring}
  }
}

/** One line per enabled tenant channel: verified, or the verification error and the command that re-verifies. */
export async function checkChannels(database: Database): Promise<DoctorCheck[]> {
  let rows: Array<{slug: string; channel: string; provider: string; is_verified: number; verification_error: string | null}>
  try {
    rows = (await database.db
      .selectFrom('tenant_channel_settings as s')
      .innerJoin('tenants as t', 't.id', 's.tenant_id')
      .select(['t.slug as slug', 's.channel as channel', 's.provider as provider', 's.is_verified as is_verified', 's.verification_error as verification_error'])
      .where('s.is_enabled', '=', 1)
      .orderBy('t.slug')
      .orderBy('s.channel')
      .execute()) as typeof rows
  } catch (error) {
    return [{name: 'Enabled tenant channels verified', ok: false, detail: message(error), fix: 'Run `engage migrate up`.', failsAs: MigrationError}]
  }
  if (rows.length === 0) {
    return [{name: 'Enabled tenant channels verified', ok: false, detail: 'No tenant has an enabled channel: nothing can be sent.', fix: 'Seed one: `engage seed twilio --tenant … --create-tenant --name …` (see docs/runbook.md).', failsAs: UsageError}]
  }
  return rows.map((row) => {
    const name = `Tenant ${row.slug} ${row.channel} verified`
    if (Number(row.is_verified) === 1) return {name, ok: true, detail: `${row.provider} credentials verified`}
    const reseed = row.provider === 'ses' ? `engage seed ses --tenant ${row.slug} …` : `engage seed twilio --tenant ${row.slug} --channels ${row.channel} …`
    return {name, ok: false, detail: row.verification_error ? `not verified: ${row.verification_error}` : 'not verified', fix: `Re-seed with correct credentials (\`${reseed}\`), or disable it: \`engage settings disable --tenant ${row.slug} --channel ${row.channel}\`.`, failsAs: ProviderError}
  })
}

/** The local queue in the database, and SQS (with its DLQ) when SQS_QUEUE_URL is set: reachable, with their depths. */
export async function checkQueues(database: Database | undefined, get: (name: string) => string | undefined): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = []
  const depthText = (depth: {visible: number; inFlight: number; delayed?: number; deadLetter?: number}) =>
    `${depth.visible} visible, ${depth.inFlight} in flight${depth.delayed ? `, ${depth.delayed} delayed` : ''}; DLQ ${depth.deadLetter ?? 'unknown'}`
  if (database) {
    try {
      const depth = await new LocalQueue({database}).depth()
      checks.push({name: 'Local queue reachable', ok: true, detail: depthText(depth)})
    } catch (error) {
      checks.push({name: 'Local queue reachable', ok: false, detail: message(error), fix: 'Run `engage migrate up` (the local queue is migration 0004).', failsAs: MigrationError})
    }
  }
  const queueUrl = get('SQS_QUEUE_URL')?.trim()
  const awsOn = ['true', '1', 'yes', 'on'].includes((get('USE_AWS_QUEUE') ?? '').trim().toLowerCase())
  if (!queueUrl) {
    if (awsOn) checks.push({name: 'SQS queue reachable', ok: false, detail: 'USE_AWS_QUEUE is on but SQS_QUEUE_URL is not set.', fix: 'Set SQS_QUEUE_URL and SQS_DLQ_URL (`engage deploy local` or the stack outputs).', failsAs: UsageError})
    return checks
  }
  const dlqUrl = get('SQS_DLQ_URL')?.trim() || undefined
  const endpoint = get('SQS_ENDPOINT')?.trim() || undefined
  const regionMatch = /^https?:\/\/sqs\.([a-z0-9-]+)\./.exec(queueUrl)
  const region = get('AWS_REGION')?.trim() || regionMatch?.[1] || 'us-east-1'
  const credentials = endpoint !== undefined && !get('AWS_ACCESS_KEY_ID') ? {credentials: {accessKeyId: 'local', secretAccessKey: 'local'}} : {}
  const client = await createSqsClient({region, ...(endpoint ? {endpoint} : {}), ...credentials, maxAttempts: 1})
  try {
    const depth = await new SqsQueue({client, queueUrl, ...(dlqUrl ? {deadLetterQueueUrl: dlqUrl} : {})}).depth()
    const missingDlq = dlqUrl === undefined
    checks.push({
      name: 'SQS queue and DLQ reachable',
      ok: !missingDlq,
      detail: `${queueUrl}: ${depthText(depth)}`,
      ...(missingDlq ? {fix: 'Set SQS_DLQ_URL so dead letters can be watched and redriven.', failsAs: UsageError} : {}),
    })
  } catch (error) {
    checks.push({name: 'SQS queue and DLQ reachable', ok: false, detail: `${queueUrl}: ${message(error)}`, fix: endpoint ? `Start the emulator at ${endpoint} (\`engage dev\`), then \`engage deploy local\`.` : 'Check AWS credentials, AWS_REGION and that the stack is deployed (`engage deploy dev`).', failsAs: ProviderError})
  } finally {
    client.destroy()
  }
  return checks
}

export type {Settings}
