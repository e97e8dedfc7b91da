import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {GLOBAL_SCOPE, readUseAwsQueue, setUseAwsQueue} from '../../src/cutover/flags.js'
import type {Database} from '../../src/db/database.js'
import {createTenant} from '../../src/tenants/tenant-repository.js'
import {DIALECTS, type TestDatabase} from '../support/databases.js'
import {runCli} from '../support/run-cli.js'
import {closedPort, migratedDatabase, parseJson} from '../support/seed-fixtures.js'

const settingsOf = (values: Record<string, string> = {}) => ({get: (name: string) => values[name]})

describe.each(DIALECTS)('USE_AWS_QUEUE flag: precedence, audit, cutover commands (%s)', (dialect) => {
  let testDb: TestDatabase
  let database: Database
  let acmeId: string
  let betaId: string

  beforeAll(async () => {
    testDb = await migratedDatabase(dialect)
    database = await testDb.open()
    acmeId = (await createTenant(database.db, {slug: 'acme', name: 'Acme'})).id
    betaId = (await createTenant(database.db, {slug: 'beta', name: 'Beta'})).id
  })
  afterAll(async () => {
    await testDb?.dispose()
  })

  const cli = (args: string[], env: Record<string, string> = {}) =>
    runCli([...args, '--database-url', testDb.url], {env: {ENGAGE_OPERATOR: 'ops-alice', ...env}})
  const flagRows = () => database.db.selectFrom('feature_flags').selectAll().orderBy('scope').execute()
  const auditRows = () => database.db.selectFrom('feature_flag_audit').selectAll().orderBy('id').execute()

  it('precedence: environment override > tenant row > global row > default off', async () => {
    const actor = {reason: 'test', actor: 'tester'}
    expect(await readUseAwsQueue(database, settingsOf(), acmeId)).toEqual({value: false, source: 'default'})

    await setUseAwsQueue(database, GLOBAL_SCOPE, true, actor)
    expect(await readUseAwsQueue(database, settingsOf(), acmeId)).toEqual({value: true, source: 'global'})
    expect(await readUseAwsQueue(database, settingsOf())).toEqual({value: true, source: 'global'})

    await setUseAwsQueue(database, acmeId, false, actor)
    expect(await readUseAwsQueue(database, settingsOf(), acmeId)).toEqual({value: false, source: 'tenant'})
    expect(await readUseAwsQueue(database, settingsOf(), betaId)).toEqual({value: true, source: 'global'})

    expect(await readUseAwsQueue(database, settingsOf({USE_AWS_QUEUE: 'on'}), acmeId)).toEqual({value: true, source: 'env'})
    expect(await readUseAwsQueue(database, settingsOf({USE_AWS_QUEUE: '0'}), betaId)).toEqual({value: false, source: 'env'})
    await expect(readUseAwsQueue(database, settingsOf({USE_AWS_QUEUE: 'ture'}), betaId)).rejects.toMatchObject({code: 'USE_AWS_QUEUE_INVALID'})

    // Back to a clean slate for the CLI tests.
    await database.db.deleteFrom('feature_flags').execute()
    await database.db.deleteFrom('feature_flag_audit').execute()
  })

  it('enable, per-tenant disable, already-done, status and rollback: every change audited with who, when and why', async () => {
    const enabled = await cli(['cutover', '--enable', '--reason', 'phase 3 go', '--yes'])
    expect(enabled.code, enabled.stderr).toBe(0)
    expect(enabled.stdout).toContain('USE_AWS_QUEUE global: unset → true')

    const again = await cli(['cutover', '--enable', '--reason', 'twice', '--yes'])
    expect(again.code).toBe(0)
    expect(again.stdout).toContain('already true; nothing changed')

    const tenantOff = await cli(['cutover', '--disable', '--tenant', 'beta', '--reason', 'beta waits for its number port', '--yes', '--json'])
    expect(tenantOff.code, tenantOff.stderr).toBe(0)
    expect(parseJson<Record<string, unknown>>(tenantOff)).toMatchObject({value: false, scope: 'tenant', tenant: {id: betaId, slug: 'beta'}, change: {changed: true, oldValue: null, newValue: 'false'}})

    const status = await cli(['cutover', 'status', '--json'], {USE_AWS_QUEUE: 'false'})
    expect(status.code, status.stderr).toBe(0)
    const shown = parseJson<{global: Record<string, unknown>; tenants: Array<Record<string, unknown>>; allOnAws: boolean; envOverride: string; audit: Array<Record<string, unknown>>}>(status)
    expect(shown.global).toMatchObject({value: true, updatedBy: 'ops-alice', reason: 'phase 3 go'})
    expect(shown.tenants).toEqual([expect.objectContaining({tenantId: betaId, slug: 'beta', value: false, reason: 'beta waits for its number port'})])
    expect(shown.allOnAws).toBe(false)
    expect(shown.envOverride).toBe('false')
    expect(status.stderr).toContain('USE_AWS_QUEUE=false is set in this environment')
    expect(shown.audit.map((entry) => [entry.scope, entry.oldValue, entry.newValue, entry.changedBy])).toEqual([
      [betaId, null, 'false', 'ops-alice'],
      [GLOBAL_SCOPE, null, 'true', 'ops-alice'],
    ])

    const human = await cli(['cutover', 'status'])
    expect(human.stdout).toContain('global: on (SQS + Lambda) — ops-alice')
    expect(human.stdout).toContain('beta: off — ops-alice')

    const rollback = await cli(['cutover', '--rollback', '--reason', 'Lambda errors'])
    expect(rollback.code, rollback.stderr).toBe(0)
    expect(rollback.stdout).toContain('USE_AWS_QUEUE is off (global true → false); 1 tenant override(s) cleared')
    expect(rollback.stdout).toContain('SQS is not configured here')
    expect(await flagRows()).toEqual([expect.objectContaining({scope: GLOBAL_SCOPE, value: 'false', updated_by: 'ops-alice', reason: 'Lambda errors'})])
    const audit = await auditRows()
    expect(audit.slice(-2).map((row) => [row.scope, row.old_value, row.new_value, row.reason])).toEqual([
      [GLOBAL_SCOPE, 'true', 'false', 'Lambda errors'],
      [betaId, 'false', null, 'Lambda errors'],
    ])
    expect(audit.every((row) => typeof row.changed_at === 'string' && !Number.isNaN(Date.parse(row.changed_at as string)))).toBe(true)
  })

  it('bad input: clear message, non-zero exit, nothing written', async () => {
    const before = {flags: await flagRows(), audit: await auditRows()}

    // Independent refusals, run side by side.
    const [both, none, unknownTenant, noReason, noYes, tenantRollback, moveWithoutRollback, badEnv, verifyNoRecipients] = await Promise.all([
      cli(['cutover', '--enable', '--disable', '--reason', 'x', '--yes']),
      cli(['cutover']),
      cli(['cutover', '--enable', '--tenant', 'nope', '--reason', 'x', '--yes']),
      cli(['cutover', '--enable', '--yes']),
      cli(['cutover', '--enable', '--reason', 'x']),
      cli(['cutover', '--rollback', '--tenant', 'acme']),
      cli(['cutover', '--enable', '--move-inflight', '--reason', 'x', '--yes']),
      cli(['cutover', 'status', '--json'], {USE_AWS_QUEUE: 'maybe'}),
      cli(['cutover', '--verify', '--timeout', '5'], {ENCRYPTION_KEY: 'ab'.repeat(32)}),
    ])

    expect(both.code).toBe(2)
    expect(both.stderr).toContain('--disable=true cannot also be provided when using --enable')
    expect(none.code).toBe(2)
    expect(none.stderr).toContain('CUTOVER_MODE_MISSING')
    expect(unknownTenant.code).toBe(7)
    expect(unknownTenant.stderr).toContain('No tenant with slug or id "nope"')
    // Decided: a flag change without a terminal must say why (the audit is the point); at a terminal it is asked for.
    expect(noReason.code).toBe(2)
    expect(noReason.stderr).toContain('Missing --reason')
    expect(noYes.code).toBe(2)
    expect(noYes.stderr).toContain('Pass --yes')
    expect(tenantRollback.code).toBe(2)
    expect(tenantRollback.stderr).toContain('--tenant goes with --enable or --disable')
    expect(moveWithoutRollback.code).toBe(2)
    // status still shows the database, and warns that this machine's override is unusable.
    expect(badEnv.code).toBe(0)
    expect(badEnv.stderr).toContain('USE_AWS_QUEUE="maybe" is neither on nor off')
    // --verify is wired to runCutoverVerify on the path the database flag selects.
    expect(verifyNoRecipients.code).toBe(2)
    expect(verifyNoRecipients.stderr).toContain('Verifying the local queue path (USE_AWS_QUEUE from global)')
    expect(verifyNoRecipients.stderr).toContain('VERIFY_NO_RECIPIENTS')
    expect({flags: await flagRows(), audit: await auditRows()}).toEqual(before)
  })

  it('an unreachable database: a DatabaseError (exit 3) naming it, for status and for a change', async () => {
    const port = await closedPort()
    const url = dialect === 'postgres' ? `postgres://postgres@127.0.0.1:${port}/engage` : `sqlite:${testDb.dir}/missing/none.db`
    const [status, enable] = await Promise.all([
      runCli(['cutover', 'status', '--database-url', url]),
      runCli(['cutover', '--enable', '--reason', 'x', '--yes', '--database-url', url]),
    ])

    expect(status.code).toBe(3)
    expect(enable.code).toBe(3)
    expect(status.stderr).toMatch(/Error \[\w+\]/)
    expect(status.stdout).toBe('')
  })

  it('migration 0006 down refuses while a flag is on, and drops both tables once everything is off', async () => {
    await setUseAwsQueue(database, acmeId, true, {reason: 'pilot', actor: 'tester'})
    const refused = await runCli(['migrate', 'down', '--step', '1', '--yes', '--database-url', testDb.url])
    expect(refused.code, refused.stdout + refused.stderr).not.toBe(0)
    expect(refused.stderr).toContain('FEATURE_FLAGS_ON')
    expect(await flagRows()).toContainEqual(expect.objectContaining({scope: acmeId, value: 'true'}))

    await setUseAwsQueue(database, acmeId, false, {reason: 'pilot over', actor: 'tester'})
    const reverted = await runCli(['migrate', 'down', '--step', '1', '--yes', '--database-url', testDb.url])
    expect(reverted.code, reverted.stderr).toBe(0)
    // Without the tables, reads fall back to the default and say why.
    expect(await readUseAwsQueue(database, settingsOf(), acmeId)).toEqual({value: false, source: 'default', tableMissing: true})
    const change = await cli(['cutover', '--enable', '--reason', 'x', '--yes'])
    expect(change.code).toBe(3)
    expect(change.stderr).toContain('engage migrate up')
    expect((await runCli(['migrate', 'up', '--database-url', testDb.url])).code).toBe(0)
  })
})
