import {randomBytes} from 'node:crypto'
import {createServer} from 'node:net'
import {existsSync, readFileSync} from 'node:fs'
import {expect} from 'vitest'
import {parseEncryptionKey} from '../../src/crypto/encryption-key.js'
import type {Database} from '../../src/db/database.js'
import {newAuthToken, newSid} from '../../src/twilio-sandbox/ids.js'
import type {SandboxSeed} from '../../src/twilio-sandbox/seed.js'
import {createTestDatabase, type TestDatabase} from './databases.js'
import {runCli, type CliResult} from './run-cli.js'

/** A fresh database of the dialect, migrated by the real `engage migrate up`. */
export async function migratedDatabase(dialect: TestDatabase['dialect']): Promise<TestDatabase> {
  const database = await createTestDatabase(dialect)
  const result = await runCli(['migrate', 'up', '--database-url', database.url])
  if (result.code !== 0) {
    await database.dispose()
    throw new Error(`migrate up failed (${result.code}): ${result.stderr}`)
  }
  return database
}

/** A random ENCRYPTION_KEY value (64 hex) and its key id. */
export function newKey(): {hex: string; id: string} {
  const hex = randomBytes(32).toString('hex')
  return {hex, id: parseEncryptionKey(hex).id}
}

/** A port nothing listens on: bound, then released. */
export async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as {port: number}
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** A sandbox seed with an active account, a service holding two SMS numbers and a WhatsApp sender, and a second, suspended account. */
export function twilioSeed() {
  const accountSid = newSid('AC')
  const authToken = newAuthToken()
  const serviceSid = newSid('MG')
  const suspendedSid = newSid('AC')
  const suspendedToken = newAuthToken()
  const suspendedServiceSid = newSid('MG')
  const seed: SandboxSeed = {
    accounts: [
      {sid: accountSid, authToken, status: 'active'},
      {sid: suspendedSid, authToken: suspendedToken, status: 'suspended'},
    ],
    services: [
      {sid: serviceSid, accountSid, phoneNumbers: ['+15005550006', '+15005550007', 'whatsapp:+15005550008']},
      {sid: suspendedServiceSid, accountSid: suspendedSid, phoneNumbers: ['+15005550009']},
    ],
  }
  return {seed, accountSid, authToken, serviceSid, suspendedSid, suspendedToken, suspendedServiceSid}
}

/** Every row of tenants and tenant_channel_settings, ordered: compared before/after to prove nothing was written. */
export async function snapshotSettings(database: Database): Promise<{tenants: unknown[]; settings: unknown[]}> {
  const tenants = await database.db.selectFrom('tenants').selectAll().orderBy('id').execute()
  const settings = await database.db.selectFrom('tenant_channel_settings').selectAll().orderBy('id').execute()
  return {tenants, settings}
}

/** Asserts none of the secrets occurs in the command's stdout or stderr. */
export function expectNoSecrets(result: CliResult, secrets: string[]): void {
  const output = result.stdout + result.stderr
  for (const secret of secrets) expect(output.includes(secret), 'a secret appeared in the command output').toBe(false)
}

/** Asserts none of the secrets occurs as plaintext bytes in a SQLite database file or its WAL. */
export function expectSecretsNotInFile(path: string, secrets: string[]): void {
  for (const file of [path, `${path}-wal`, `${path}-journal`]) {
    if (!existsSync(file)) continue
    const bytes = readFileSync(file)
    for (const secret of secrets) expect(bytes.includes(Buffer.from(secret, 'utf8')), `a secret is stored in plaintext in ${file}`).toBe(false)
  }
}

export function parseJson<T = Record<string, unknown>>(result: CliResult): T {
  try {
    return JSON.parse(result.stdout) as T
  } catch {
    throw new Error(`stdout is not one JSON document (exit ${result.code}); stderr: ${result.stderr}`)
  }
}
