import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {parseEncryptionKey} from '../../src/crypto/encryption-key.js'
import {decryptJson} from '../../src/crypto/envelope.js'
import type {Database} from '../../src/db/database.js'
import {DIALECTS, type TestDatabase} from '../support/databases.js'
import {runCli} from '../support/run-cli.js'
import {expectNoSecrets, migratedDatabase, newKey, parseJson, snapshotSettings} from '../support/seed-fixtures.js'

describe.each(DIALECTS)('engage seed ses (%s)', (dialect) => {
  const key = newKey()
  const accessKeyId = 'AKIAIOSFODNN7EXAMPLE'
  const secretAccessKey = `wJalrXUtnFEMI/K7MDENG/${'bPxRfiCYEXAMPLEKEY'}`
  let testDb: TestDatabase
  let database: Database

  beforeEach(async () => {
    testDb = await migratedDatabase(dialect)
    database = await testDb.open()
  })
  afterEach(async () => {
    await testDb.dispose()
  })

  const args = (extra: string[] = [], tenant = 'acme') => ['seed', 'ses', '--database-url', testDb.url, '--tenant', tenant, ...extra]
  const withKeys = {ENCRYPTION_KEY: key.hex, AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey}
  const emailRows = () => database.db.selectFrom('tenant_channel_settings').selectAll().where('channel', '=', 'email').execute()

  it('stores the access key encrypted, its id and the region in provider config', async () => {
    const result = await runCli(args(['--create-tenant', '--name', 'Acme', '--from', 'news@acme.example', '--region', 'eu-west-1', '--configuration-set', 'engage-events']), {env: withKeys})

    expect(result.code).toBe(0)
    expectNoSecrets(result, [secretAccessKey])
    expect(result.stdout).toContain('AKIA…MPLE')
    const [row] = await emailRows()
    expect(row).toMatchObject({provider: 'ses', sender: 'news@acme.example', messaging_service_sid: null})
    expect(Number(row!.is_verified)).toBe(0)
    expect(JSON.parse(row!.provider_config_json)).toEqual({region: 'eu-west-1', configurationSet: 'engage-events', accessKeyId})
    expect(decryptJson(parseEncryptionKey(key.hex), row!.credentials_encrypted, {tenantId: row!.tenant_id, channel: 'email', field: 'credentials'})).toEqual({
      accessKeyId,
      secretAccessKey,
      region: 'eu-west-1',
    })
  })

  it('without access keys stores no credentials (IAM role), region from AWS_REGION, and needs no ENCRYPTION_KEY', async () => {
    const result = await runCli(args(['--create-tenant', '--name', 'Acme', '--from', 'news@acme.example', '--json']), {env: {AWS_REGION: 'us-west-2'}})

    expect(result.code).toBe(0)
    expect(parseJson<{credentials: string}>(result).credentials).toBe('iam-role')
    const [row] = await emailRows()
    expect(row!.credentials_encrypted).toBeNull()
    expect(JSON.parse(row!.provider_config_json)).toEqual({region: 'us-west-2'})
  })

  it('re-seeding updates the one email row in place', async () => {
    expect((await runCli(args(['--create-tenant', '--name', 'Acme', '--from', 'news@acme.example', '--region', 'eu-west-1']), {env: withKeys})).code).toBe(0)
    const [before] = await emailRows()

    const again = await runCli(args(['--from', 'hello@acme.example', '--region', 'eu-central-1']), {env: {ENCRYPTION_KEY: key.hex}})

    expect(again.code).toBe(0)
    const rows = await emailRows()
    expect(rows).toHaveLength(1)
    expect(rows[0]!.id).toBe(before!.id)
    expect(rows[0]!.sender).toBe('hello@acme.example')
    // Keys were not in the environment this time: the row switches to the IAM role.
    expect(rows[0]!.credentials_encrypted).toBeNull()
    expect(JSON.parse(rows[0]!.provider_config_json)).toEqual({region: 'eu-central-1'})
  })

  const bad: Array<[string, string[], Record<string, string>, number, RegExp, string?]> = [
    ['a malformed from address', ['--from', 'news-at-acme', '--region', 'eu-west-1'], withKeys, 2, /--from "news-at-acme" is not an email address/],
    ['half an access key', ['--from', 'news@acme.example', '--region', 'eu-west-1'], {ENCRYPTION_KEY: key.hex, AWS_ACCESS_KEY_ID: accessKeyId}, 2, /must be set together/],
    ['a malformed region', ['--from', 'news@acme.example', '--region', 'Europe'], withKeys, 2, /"Europe" is not an AWS region name/],
    ['an unknown tenant', ['--from', 'news@acme.example', '--region', 'eu-west-1'], withKeys, 7, /No tenant with slug or id "globex"/, 'globex'],
    ['no region and no terminal', ['--from', 'news@acme.example'], withKeys, 2, /Missing --region \(or AWS_REGION\)/],
    ['keys without ENCRYPTION_KEY', ['--from', 'news@acme.example', '--region', 'eu-west-1'], {AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey}, 5, /ENCRYPTION_KEY is not set/],
  ]

  it.each(bad)('refuses %s and writes nothing', async (_name, extra, env, exitCode, message, tenant) => {
    expect((await runCli(args(['--create-tenant', '--name', 'Acme', '--from', 'old@acme.example', '--region', 'eu-west-1']), {env: withKeys})).code).toBe(0)
    const before = await snapshotSettings(database)

    const result = await runCli(args(extra, tenant), {env})

    expect(result.code).toBe(exitCode)
    expect(result.stderr).toMatch(message)
    expectNoSecrets(result, [secretAccessKey])
    expect(await snapshotSettings(database)).toEqual(before)
  })
})
