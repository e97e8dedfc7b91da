import {sql} from 'kysely'
import {afterEach, describe, expect, it} from 'vitest'
import type {Database} from '../../src/db/database.js'
import {createTestDatabase, DIALECTS, type TestDatabase} from '../support/databases.js'
import {buildLegacyFixture, dumpLegacyTables, TENANTS} from '../support/legacy-fixture.js'
import {runCli} from '../support/run-cli.js'

/**
 * 0002 verifies before commit. A trigger on tenant_channel_settings (which
 * exists before the migration) changes what 0002 writes into settings row 1,
 * the target of legacy row 2, behind its back, or into the settings row it
 * creates for legacy row 10; the verification must catch it, name the row,
 * exit non-zero and leave the legacy tables as they were.
 */
type Tamper = 'credentials' | 'webhook_url' | 'created_webhook_url'

/** The fixture's settings row that legacy row 10 creates (credsOnly's sms). */
const CREATED_FOR_ROW_10 = `NEW.tenant_id = '${TENANTS.credsOnly.id}' AND NEW.channel = 'sms'`

async function installTamper(database: Database, tamper: Tamper): Promise<void> {
  if (tamper === 'created_webhook_url') {
    // An insert's BEFORE trigger may change NEW on PostgreSQL; SQLite's cannot, so it updates the row after.
    if (database.dialect === 'sqlite') {
      await sql.raw(`CREATE TRIGGER tamper AFTER INSERT ON tenant_channel_settings WHEN ${CREATED_FOR_ROW_10}
        BEGIN UPDATE tenant_channel_settings SET webhook_url = 'https://elsewhere.example/hook' WHERE id = NEW.id; END`).execute(database.db)
      return
    }
    await sql.raw(`CREATE FUNCTION tamper() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF ${CREATED_FOR_ROW_10} THEN NEW.webhook_url := 'https://elsewhere.example/hook'; END IF;
        RETURN NEW;
      END $$`).execute(database.db)
    await sql.raw(`CREATE TRIGGER tamper BEFORE INSERT ON tenant_channel_settings FOR EACH ROW EXECUTE FUNCTION tamper()`).execute(database.db)
    return
  }
  if (database.dialect === 'sqlite') {
    // Flips the last character of the envelope (its tag), or points the webhook elsewhere.
    const change = tamper === 'credentials'
      ? `credentials_encrypted = substr(NEW.credentials_encrypted, 1, length(NEW.credentials_encrypted) - 1)
          || CASE WHEN substr(NEW.credentials_encrypted, -1) = 'A' THEN 'B' ELSE 'A' END`
      : `webhook_url = 'https://elsewhere.example/hook'`
    await sql.raw(`CREATE TRIGGER tamper AFTER UPDATE ON tenant_channel_settings
      WHEN NEW.id = 1 AND NEW.credentials_encrypted IS NOT NULL AND OLD.credentials_encrypted IS NULL
      BEGIN UPDATE tenant_channel_settings SET ${change} WHERE id = 1; END`).execute(database.db)
    return
  }
  const change = tamper === 'credentials'
    ? `NEW.credentials_encrypted := left(NEW.credentials_encrypted, -1) || CASE WHEN right(NEW.credentials_encrypted, 1) = 'A' THEN 'B' ELSE 'A' END;`
    : `NEW.webhook_url := 'https://elsewhere.example/hook';`
  // Columns are looked up when the function runs, after 0002 has added them.
  await sql.raw(`CREATE FUNCTION tamper() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.id = 1 AND to_jsonb(NEW) ->> 'credentials_encrypted' IS NOT NULL THEN ${change} END IF;
      RETURN NEW;
    END $$`).execute(database.db)
  await sql.raw(`CREATE TRIGGER tamper BEFORE UPDATE ON tenant_channel_settings FOR EACH ROW EXECUTE FUNCTION tamper()`).execute(database.db)
}

describe.each(DIALECTS)('channel-settings consolidation (0002) verification on %s', (dialect) => {
  let testDatabase: TestDatabase | undefined
  afterEach(async () => {
    await testDatabase?.dispose()
    testDatabase = undefined
  })

  const dump = async (test: TestDatabase) => {
    const database = await test.open()
    try {
      return await dumpLegacyTables(database)
    } finally {
      await database.close()
    }
  }

  it.each([
    ['credentials', /legacy credential row\(s\) \(ids 2\): stored credentials differ from the ones written/],
    ['webhook_url', /legacy credential row\(s\) \(ids 2\): merged settings row is missing or differs from the legacy row/],
    ['created_webhook_url', /legacy credential row\(s\) \(ids 10\): merged settings row is missing or differs from the legacy row/],
  ] as const)('a settings row whose %s changed as it was written is caught, named and rolled back', async (tamper, message) => {
    testDatabase = await createTestDatabase(dialect)
    const fixture = await buildLegacyFixture(testDatabase)
    const database = await testDatabase.open()
    await installTamper(database, tamper)
    await database.close()
    const before = await dump(testDatabase)

    const result = await runCli(['migrate', 'up', '--database-url', testDatabase.url], {env: {ENCRYPTION_KEY: fixture.encryptionKey}})

    expect(result.code, result.stderr).toBe(4)
    expect(result.stderr).toMatch(message)
    expect(result.stderr).toMatch(/Rolled back; nothing was changed/)
    expect(await dump(testDatabase)).toEqual(before)
  })
})
