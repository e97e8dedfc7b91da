import {randomBytes} from 'node:crypto'
import {afterEach, describe, expect, it} from 'vitest'
import {CryptoPool} from '../../../src/channel-settings/consolidation/crypto-pool.js'
import {PageCrypto, type EncryptedPage} from '../../../src/channel-settings/consolidation/worker-tasks.js'
import {keyIdOf, type EncryptionKey} from '../../../src/crypto/encryption-key.js'
import {decryptField} from '../../../src/crypto/envelope.js'
import {encryptLegacy} from '../../../src/crypto/legacy-cbc.js'
import type {DecryptFailure} from '../../../src/channel-settings/consolidation/decrypt-legacy.js'
import type {VerifyProblem} from '../../../src/channel-settings/consolidation/check-stored.js'

const raw = randomBytes(32)
const key: EncryptionKey = {id: keyIdOf(raw), key: raw}
const twilio = JSON.stringify({accountSid: 'AC0123', authToken: 'token-of-row-1'})

/** A page as loadLegacyPage returns it: [id, tenant, channel, provider, legacy value, webhook secret, tenant exists, settings id]. */
function pageJson(): string {
  return JSON.stringify([
    [1, 't1', 'sms', 'twilio', encryptLegacy(raw, twilio, randomBytes(16)), 'whsec_1', 1, 7],
    [2, 't1', 'sms', 'twilio', encryptLegacy(raw, twilio, randomBytes(16)), null, 1, 7],
    [3, 't2', 'sms', 'twilio', 'not-hex', null, 1, null],
  ])
}

/** What the database would store for the writes, as readBackPage returns it (STORED_COLUMNS). */
function storedJson(writes: EncryptedPage['writes']): string {
  const updated = JSON.parse(writes.updated!) as [number, number, string, string, string | null][]
  const archive = JSON.parse(writes.archive!) as [number, string, number | null, number, string | null, string | null, number][]
  return JSON.stringify(
    archive.map(([id, reason, settingsId, created, credentials, secret]) => {
      const merged = updated.find((row) => row[0] === id)
      return [id, reason, settingsId, created, credentials, secret, merged ? settingsId : null, merged?.[3] ?? null, merged?.[4] ?? null]
    }),
  )
}

describe('consolidation page cryptography (the crypto worker\'s steps)', () => {
  it('decrypts, re-encrypts by decision and checks the stored envelopes; a changed byte is named', () => {
    const crypto = new PageCrypto(key)
    expect(crypto.decrypt(0, pageJson())).toEqual([{id: 3, problem: 'is not "<iv>:<ciphertext>" hex'}])
    crypto.plan('[3, 2]')
    const {writes, counts} = crypto.encrypt(0)

    expect(counts).toEqual({byReason: {merged: 1, superseded: 1, orphaned: 0, undecryptable: 1}, intoExisting: 1, created: 0, undecryptableRowIds: [3]})
    const [legacyId, settingsId, config, credentials, secret] = (JSON.parse(writes.updated!) as [number, number, string, string, string][])[0]!
    expect([legacyId, settingsId, JSON.parse(config)]).toEqual([2, 7, {accountSid: 'AC0123'}])
    expect(secret).toBeNull()
    expect(decryptField(key, credentials, {tenantId: 't1', channel: 'sms', field: 'credentials'}).toString()).toBe(twilio)
    expect(writes.created).toBeNull()

    expect(crypto.verify(0, storedJson(writes))).toEqual([])
  })

  it('names the row whose stored envelope differs by one byte from the one written', () => {
    const crypto = new PageCrypto(key)
    crypto.decrypt(0, pageJson())
    crypto.plan('[3, 2]')
    const {writes} = crypto.encrypt(0)
    const credentials = (JSON.parse(writes.updated!) as string[][])[0]![3]!
    const tampered = storedJson(writes).replace(credentials, `${credentials.slice(0, -1)}${credentials.endsWith('A') ? 'B' : 'A'}`)

    expect(crypto.verify(0, tampered)).toEqual([{id: 2, problem: 'stored credentials differ from the ones written'}])
  })

  it('refuses a step out of order rather than guessing', () => {
    const crypto = new PageCrypto(key)
    expect(() => crypto.encrypt(0)).toThrow(/before the plan/)
    crypto.plan('[]')
    expect(() => crypto.encrypt(0)).toThrow(/out of order/)
  })
})

describe('consolidation crypto pool (worker threads)', () => {
  let pool: CryptoPool | undefined
  afterEach(async () => {
    await pool?.close()
    pool = undefined
  })

  it('runs a page through decrypt, encrypt and verify in its worker', async () => {
    pool = new CryptoPool(key, 2)
    const failures = await pool.run<DecryptFailure[]>({task: 'decrypt', page: 1, json: pageJson()})
    await pool.broadcast({task: 'plan', page: 0, liveIds: '[2, 3]'})
    const encrypted = await pool.run<EncryptedPage>({task: 'encrypt', page: 1})
    const problems = await pool.run<VerifyProblem[]>({task: 'verify', page: 1, stored: storedJson(encrypted.writes)})

    expect(failures.map((failure) => failure.id)).toEqual([3])
    expect(encrypted.counts.byReason).toEqual({merged: 1, superseded: 1, orphaned: 0, undecryptable: 1})
    expect(problems).toEqual([])
  })

  it('reports a worker\'s failure with its code and without quoting the input', async () => {
    pool = new CryptoPool(key, 1)
    const secret = 'whsec_do_not_print_me'

    const failure = await pool.run({task: 'decrypt', page: 0, json: `[[1, "${secret}"`}).catch((error: unknown) => error)

    expect(failure).toMatchObject({code: 'CONSOLIDATION_WORKER_FAILED'})
    expect(String((failure as Error).message)).not.toContain(secret)
    // The worker lives on: a later page still runs.
    await expect(pool.run({task: 'decrypt', page: 0, json: pageJson()})).resolves.toHaveLength(1)
  })
})
