import {createHash, randomBytes} from 'node:crypto'
import {sql} from 'kysely'
import type {Database} from '../../src/db/database.js'
import {encryptLegacy} from '../../src/crypto/legacy-cbc.js'
import {LEGACY_POSTGRES_STATEMENTS, LEGACY_SQLITE_STATEMENTS, LEGACY_TABLES} from '../../src/schema/legacy-schema.js'
import type {TestDatabase} from './databases.js'

/**
 * A legacy EngageNinja database with every quirk the contract lists, built
 * the way production ones were: the contract DDL executed directly, then rows
 * written as the backend writes them (legacy AES-256-CBC, random IVs,
 * plaintext webhook secrets). `engage migrate up` then baselines it.
 */

export type ExpectedReason = 'merged' | 'superseded' | 'orphaned'

export interface FixtureCredentialRow {
  id: number
  tenantId: string
  channel: 'sms' | 'whatsapp' | 'email'
  provider: 'twilio' | 'ses'
  /** The exact legacy plaintext bytes (JSON, not always in canonical form). */
  plaintext: string
  webhookSecret: string | null
  messagingServiceSid: string | null
  webhookUrl: string | null
  isVerified: 0 | 1
  verificationError: string | null
  updatedAt: string
  expected: ExpectedReason
  /** For merged rows: the settings row it lands in, or 'created'. */
  into?: number | 'created'
}

export interface LegacyFixture {
  /** ENCRYPTION_KEY, 64 hex characters. */
  encryptionKey: string
  credentials: FixtureCredentialRow[]
  /** Settings ids that have no credentials and must stay exactly as they were. */
  settingsOnlyIds: number[]
  /** Every secret plaintext (auth tokens, secret access keys, non-empty webhook secrets), to grep file bytes for. */
  secrets: string[]
  /** The report 0002 must print for this database, written out by hand. */
  expectedReport: Record<string, unknown>
}

export const TENANTS = {
  acme: {id: 'ten_acme', slug: 'acme', name: 'Acme Corp'},
  bobby: {id: 'ten_bobby', slug: "robert'); drop table tenants;--", name: "Robert'); DROP TABLE tenants;--"},
  zoe: {id: 'ten_zoë_東京', slug: 'zoë-🚀-東京', name: 'Zoë 🚀 東京'},
  settingsOnly: {id: 'ten_settings_only', slug: 'settings-only', name: 'Settings Only Ltd'},
  credsOnly: {id: 'ten_creds_only', slug: 'creds-only', name: 'Credentials Only GmbH'},
  obrien: {id: "ten_o'brien", slug: "o'brien", name: 'O\'Brien "Quotes" \\ Backslash'},
} as const
/** A tenant that was deleted; its credential rows stayed behind (v2 has no foreign key). */
export const GONE_TENANT = 'ten_gone'

const secret = (prefix: string) => `${prefix}${randomBytes(16).toString('hex')}`
const twilio = (authToken: string) => JSON.stringify({accountSid: `AC${randomBytes(16).toString('hex')}`, authToken})
const ses = (secretAccessKey: string) =>
  JSON.stringify({accessKeyId: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`, secretAccessKey, region: 'us-east-1'})

/** Executes the contract DDL for the database's dialect, as the backend's own schema file did. */
export async function createLegacySchema(database: Database): Promise<void> {
  const statements = database.dialect === 'sqlite' ? LEGACY_SQLITE_STATEMENTS : LEGACY_POSTGRES_STATEMENTS
  for (const statement of statements) await sql.raw(statement).execute(database.db)
}

/** Builds the fixture in a fresh test database and closes it again. */
export async function buildLegacyFixture(testDatabase: TestDatabase): Promise<LegacyFixture> {
  const key = randomBytes(32)
  const database = await testDatabase.open({create: true})
  try {
    await createLegacySchema(database)
    const db = database.db
    const created = '2025-12-01T09:00:00.000Z'
    await db.insertInto('tenants').values(Object.values(TENANTS).map((t) => ({...t, created_at: created}))).execute()

    const settings: {tenant_id: string; channel: string; provider: string; is_enabled: number; sender: string | null; settings_json?: string}[] = [
      {tenant_id: TENANTS.acme.id, channel: 'sms', provider: 'twilio', is_enabled: 1, sender: '+15550000001', settings_json: '{"dailyLimit":1000}'},
      {tenant_id: TENANTS.acme.id, channel: 'email', provider: 'ses', is_enabled: 1, sender: 'noreply@acme.example'},
      {tenant_id: TENANTS.bobby.id, channel: 'whatsapp', provider: 'twilio', is_enabled: 1, sender: 'whatsapp:+15550000002'},
      {tenant_id: TENANTS.zoe.id, channel: 'sms', provider: 'twilio', is_enabled: 1, sender: '+815000000003', settings_json: '{"greeting":"こんにちは 🚀"}'},
      {tenant_id: TENANTS.settingsOnly.id, channel: 'sms', provider: 'twilio', is_enabled: 0, sender: null},
      {tenant_id: TENANTS.settingsOnly.id, channel: 'email', provider: 'ses', is_enabled: 1, sender: 'Settings Only <hello@settings.example>'},
      {tenant_id: TENANTS.obrien.id, channel: 'sms', provider: 'twilio', is_enabled: 1, sender: '+353000000007'},
      // Inserted and deleted below, so the sequence runs ahead of the highest id.
      {tenant_id: TENANTS.settingsOnly.id, channel: 'whatsapp', provider: 'twilio', is_enabled: 0, sender: null},
    ]
    for (const [index, row] of settings.entries()) {
      await db.insertInto('tenant_channel_settings').values({settings_json: '{}', ...row, created_at: created, updated_at: `2026-01-0${(index % 9) + 1}T10:00:00.000Z`}).execute()
    }
    await db.deleteFrom('tenant_channel_settings').where('id', '=', 8).execute()

    const sms = (tenantId: string, rest: Partial<FixtureCredentialRow> & Pick<FixtureCredentialRow, 'updatedAt' | 'expected'>): Omit<FixtureCredentialRow, 'id'> => ({
      tenantId, channel: 'sms', provider: 'twilio', plaintext: twilio(secret('tok_')), webhookSecret: secret('whsec_'),
      messagingServiceSid: null, webhookUrl: null, isVerified: 0, verificationError: null, ...rest,
    })
    const email = (tenantId: string, rest: Partial<FixtureCredentialRow> & Pick<FixtureCredentialRow, 'updatedAt' | 'expected'>): Omit<FixtureCredentialRow, 'id'> => ({
      tenantId, channel: 'email', provider: 'ses', plaintext: ses(secret('sak_')), webhookSecret: null,
      messagingServiceSid: null, webhookUrl: null, isVerified: 0, verificationError: null, ...rest,
    })
    const rows: Omit<FixtureCredentialRow, 'id'>[] = [
      /* 1 */ sms(TENANTS.acme.id, {updatedAt: '2026-01-01T00:00:00.000Z', expected: 'superseded'}),
      /* 2 */ sms(TENANTS.acme.id, {updatedAt: '2026-03-01T12:00:00.000Z', expected: 'merged', into: 1, isVerified: 1,
        messagingServiceSid: 'MG0123456789abcdef0123456789abcdef', webhookUrl: 'https://hooks.acme.example/twilio?tenant=acme&x=1'}),
      /* 3 */ sms(TENANTS.acme.id, {updatedAt: '2026-02-01T00:00:00.000Z', expected: 'superseded', webhookSecret: null}),
      /* 4 */ email(TENANTS.acme.id, {updatedAt: '2026-02-15T08:30:00.000Z', expected: 'merged', into: 2}),
      /* 5 */ {...sms(TENANTS.bobby.id, {updatedAt: '2026-02-02T10:00:00.000Z', expected: 'superseded', webhookSecret: ''}), channel: 'whatsapp'},
      /* 6 */ sms(GONE_TENANT, {updatedAt: '2026-02-20T00:00:00.000Z', expected: 'orphaned'}),
      // Same updated_at as row 5: the higher id is the live one.
      /* 7 */ {...sms(TENANTS.bobby.id, {updatedAt: '2026-02-02T10:00:00.000Z', expected: 'merged', into: 3, isVerified: 1}), channel: 'whatsapp'},
      // Non-canonical JSON (spaces, key order, unicode escape): kept verbatim.
      /* 8 */ sms(TENANTS.zoe.id, {updatedAt: '2026-02-03T00:00:00.000Z', expected: 'merged', into: 4, webhookSecret: '',
        plaintext: `{ "authToken": "${secret('tok_')}",\n  "accountSid": "AC${randomBytes(16).toString('hex')}", "note": "Zo\\u00eb 🚀 東京" }`}),
      /* 9 */ email(TENANTS.credsOnly.id, {updatedAt: '2026-02-04T00:00:00.000Z', expected: 'merged', into: 'created', webhookSecret: secret('whsec_')}),
      /* 10 */ sms(TENANTS.credsOnly.id, {updatedAt: '2026-02-05T00:00:00.000Z', expected: 'merged', into: 'created', verificationError: '20003: Authenticate'}),
      /* 11 */ {...sms(TENANTS.acme.id, {updatedAt: '2026-02-06T00:00:00.000Z', expected: 'merged', into: 'created'}), channel: 'whatsapp'},
      /* 12 */ email(GONE_TENANT, {updatedAt: '2026-02-07T00:00:00.000Z', expected: 'orphaned', webhookSecret: secret('whsec_')}),
      /* 13 */ sms(TENANTS.obrien.id, {updatedAt: '2026-02-09T00:00:00.000Z', expected: 'merged', into: 7}),
      /* 14 */ sms(TENANTS.obrien.id, {updatedAt: '2026-02-08T23:59:59.999Z', expected: 'superseded', webhookSecret: null}),
      // 15 is inserted and deleted: the v2 sequence ends ahead of the highest id too.
      /* 15 */ sms(TENANTS.obrien.id, {updatedAt: '2026-02-10T00:00:00.000Z', expected: 'superseded'}),
    ]
    const credentials: FixtureCredentialRow[] = []
    for (const row of rows) {
      const inserted = await db.insertInto('tenant_channel_credentials_v2').values({
        tenant_id: row.tenantId, channel: row.channel, provider: row.provider,
        credentials_encrypted: encryptLegacy(key, row.plaintext, randomBytes(16)),
        messaging_service_sid: row.messagingServiceSid, webhook_url: row.webhookUrl, webhook_secret: row.webhookSecret,
        is_verified: row.isVerified, verification_error: row.verificationError,
        created_at: '2025-12-15T00:00:00.000Z', updated_at: row.updatedAt,
      }).returning('id').executeTakeFirstOrThrow()
      credentials.push({...row, id: Number(inserted.id)})
    }
    const dropped = credentials.pop()!
    await db.deleteFrom('tenant_channel_credentials_v2').where('id', '=', dropped.id).execute()
    if (credentials.map((row) => row.id).join() !== '1,2,3,4,5,6,7,8,9,10,11,12,13,14') throw new Error('fixture ids are not 1..14')

    await insertActivity(database)
    const secrets = credentials.flatMap((row) => {
      const parsed = JSON.parse(row.plaintext) as Record<string, string>
      return [parsed.authToken ?? parsed.secretAccessKey!, ...(row.webhookSecret ? [row.webhookSecret] : [])]
    })
    return {
      encryptionKey: key.toString('hex'),
      credentials,
      settingsOnlyIds: [5, 6],
      secrets,
      expectedReport: {
        legacyCredentialRows: 14,
        merge: {intoExistingSettings: 5, createdDisabledSettings: 3},
        settingsRowsUnchanged: 2,
        archive: {total: 14, byReason: {merged: 8, superseded: 4, orphaned: 2, undecryptable: 0}},
        undecryptableRowIds: [],
      },
    }
  } finally {
    await database.close()
  }
}

/** Contacts, campaigns, messages and status events: untouched by 0002, so they must survive it bit for bit. */
async function insertActivity(database: Database): Promise<void> {
  const db = database.db
  const at = '2026-02-01T00:00:00.000Z'
  await db.insertInto('contacts').values([
    {id: 'con_1', tenant_id: TENANTS.acme.id, name: 'Ada', phone: '+15551230001', email: 'ada@example.com', opted_out: 0, created_at: at},
    {id: 'con_2', tenant_id: TENANTS.zoe.id, name: '東京 花子', phone: '+815012345678', email: null, opted_out: 1, created_at: at},
    {id: "con_3'--", tenant_id: TENANTS.bobby.id, name: "Bobby'); DELETE FROM contacts;--", phone: null, email: 'bobby@example.com', opted_out: 0, created_at: at},
  ]).execute()
  await db.insertInto('campaigns').values([
    {id: 'cmp_1', tenant_id: TENANTS.acme.id, name: 'Spring sale', channel: 'sms', subject: null, body: 'Hi {{name}} 🌸', status: 'sent', created_at: at, sent_at: at},
    {id: 'cmp_2', tenant_id: TENANTS.acme.id, name: 'Newsletter', channel: 'email', subject: 'Nouveautés', body: '<p>Bonjour</p>', status: 'draft', created_at: at, sent_at: null},
  ]).execute()
  await db.insertInto('messages').values([
    {id: 'msg_1', tenant_id: TENANTS.acme.id, campaign_id: 'cmp_1', contact_id: 'con_1', channel: 'sms', provider: 'twilio', to_address: '+15551230001',
      provider_message_id: 'SM0001', status: 'delivered', error_code: null, error_message: null, attempts: 1, created_at: at, updated_at: at},
    {id: 'msg_2', tenant_id: TENANTS.zoe.id, campaign_id: null, contact_id: 'con_2', channel: 'sms', provider: 'twilio', to_address: '+815012345678',
      provider_message_id: null, status: 'failed', error_code: '30003', error_message: 'Unreachable ✗', attempts: 3, created_at: at, updated_at: at},
  ]).execute()
  for (const [message_id, status] of [['msg_1', 'sent'], ['msg_1', 'delivered'], ['msg_2', 'failed'], ['msg_2', 'retry']] as const) {
    await db.insertInto('message_status_events').values({message_id, status, provider_status: status.toUpperCase(), payload_json: `{"s":"${status}"}`, created_at: at}).execute()
  }
  await db.deleteFrom('message_status_events').where('status', '=', 'retry').execute()
}

/** A whole-schema and whole-data fingerprint of the legacy tables, for exact before/after comparison. */
export interface LegacyDump {
  /** SQLite: sqlite_master rows (type, name, tbl_name, sql); PostgreSQL: tables, columns, constraints, indexes. */
  schema: unknown[]
  /** sqlite_sequence rows, or identity sequence positions. */
  sequences: unknown[]
  /** Per legacy table, every row ordered by id as [id, SHA-256 of its JSON]: exact, yet no secret in a diff. */
  rows: Record<string, [unknown, string][]>
}

/**
 * Serialises the legacy schema and every legacy row (engage's own
 * `engage_*` tables excluded, anything else included, so a leftover archive
 * table or column shows). Two equal dumps mean byte-identical legacy data.
 */
export async function dumpLegacyTables(database: Database): Promise<LegacyDump> {
  const db = database.db
  const rows: LegacyDump['rows'] = {}
  let schema: unknown[]
  let sequences: unknown[]
  if (database.dialect === 'sqlite') {
    schema = (await sql`SELECT type, name, tbl_name, sql FROM sqlite_master
      WHERE name NOT LIKE 'engage\\_%' ESCAPE '\\' AND tbl_name NOT LIKE 'engage\\_%' ESCAPE '\\' ORDER BY type, name`.execute(db)).rows
    sequences = (await sql`SELECT name, seq FROM sqlite_sequence WHERE name NOT LIKE 'engage\\_%' ESCAPE '\\' ORDER BY name`.execute(db)).rows
  } else {
    const tables = (await sql`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()
      AND table_name NOT LIKE 'engage\\_%' ORDER BY table_name`.execute(db)).rows
    const columns = (await sql`SELECT table_name, column_name, ordinal_position, data_type, is_nullable, column_default,
        is_identity, identity_generation, identity_start, identity_increment
      FROM information_schema.columns WHERE table_schema = current_schema() AND table_name NOT LIKE 'engage\\_%'
      ORDER BY table_name, ordinal_position`.execute(db)).rows
    // NOT NULL shows up as CHECK constraints named after the table's OID; nullability is in `columns` already.
    const constraints = (await sql`SELECT tc.table_name, tc.constraint_name, tc.constraint_type,
        (SELECT string_agg(k.column_name, ',' ORDER BY k.ordinal_position) FROM information_schema.key_column_usage k
          WHERE k.constraint_name = tc.constraint_name AND k.table_schema = tc.table_schema) AS columns,
        cc.check_clause, rc.update_rule, rc.delete_rule,
        (SELECT string_agg(u.table_name || '.' || u.column_name, ',') FROM information_schema.constraint_column_usage u
          WHERE u.constraint_name = tc.constraint_name AND u.table_schema = tc.table_schema AND tc.constraint_type = 'FOREIGN KEY') AS references_to
      FROM information_schema.table_constraints tc
      LEFT JOIN information_schema.check_constraints cc ON cc.constraint_name = tc.constraint_name AND cc.constraint_schema = tc.table_schema
      LEFT JOIN information_schema.referential_constraints rc ON rc.constraint_name = tc.constraint_name AND rc.constraint_schema = tc.table_schema
      WHERE tc.table_schema = current_schema() AND tc.table_name NOT LIKE 'engage\\_%' AND tc.constraint_name NOT LIKE '%\\_not\\_null'
      ORDER BY tc.table_name, tc.constraint_name`.execute(db)).rows
    const indexes = (await sql`SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()
      AND tablename NOT LIKE 'engage\\_%' ORDER BY indexname`.execute(db)).rows
    schema = [{tables}, {columns}, {constraints}, {indexes}]
    sequences = []
    for (const table of LEGACY_TABLES) {
      const {rows: found} = await sql<{name: string | null}>`SELECT pg_get_serial_sequence(${table}, 'id') AS name`.execute(db)
        .catch(() => ({rows: [{name: null}]}))
      const name = found[0]?.name
      if (!name) continue
      const {rows: position} = await sql`SELECT last_value, is_called FROM ${sql.raw(name)}`.execute(db)
      sequences.push({table, name, ...(position[0] as object)})
    }
  }
  const present = new Set(
    database.dialect === 'sqlite'
      ? (schema as {type: string; name: string}[]).filter((row) => row.type === 'table').map((row) => row.name)
      : ((schema[0] as {tables: {table_name: string}[]}).tables.map((row) => row.table_name)),
  )
  for (const table of LEGACY_TABLES) {
    if (!present.has(table)) continue
    const all = await db.selectFrom(table).selectAll().orderBy('id').execute()
    rows[table] = all.map((row) => [row.id, createHash('sha256').update(JSON.stringify(row)).digest('hex')])
  }
  return {schema, sequences, rows}
}
