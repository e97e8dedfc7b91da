import {createServer, type IncomingMessage} from 'node:http'
import type {AddressInfo} from 'node:net'
import {afterEach, describe, expect, it} from 'vitest'
import {UsageError} from '../../../src/errors/engage-error.js'
import {
  WEBHOOK_TOLERANCE_SECONDS,
  WebhookReplayCache,
  WebhookVerifier,
  computeWebhookSignature,
  generateWebhookSecret,
  parseWebhookSecret,
  signWebhook,
  verifyWebhook,
  webhookFailureStatus,
} from '../../../src/webhooks/standard-webhooks.js'

// Test vector of the reference JavaScript library (standard-webhooks/libraries/javascript/src/webhook.test.ts).
const SPEC_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
const SPEC_ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek'
const SPEC_TIMESTAMP = 1614265330
const SPEC_BODY = '{"test": 2432232314}'
const SPEC_SIGNATURE = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE='

const NOW_MS = SPEC_TIMESTAMP * 1000
const at = (ms: number) => () => ms

function specHeaders(): Record<string, string> {
  return {'webhook-id': SPEC_ID, 'webhook-timestamp': String(SPEC_TIMESTAMP), 'webhook-signature': SPEC_SIGNATURE}
}

describe('signing', () => {
  it('reproduces the reference library test vector', () => {
    expect(computeWebhookSignature(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)).toBe(SPEC_SIGNATURE)
    expect(signWebhook({id: SPEC_ID, timestamp: new Date(NOW_MS), body: SPEC_BODY}, SPEC_SECRET)).toEqual(specHeaders())
  })

  it('signs bytes and the same string identically', () => {
    const body = '{"status":"delivered","to":"+14155550100","note":"café"}'
    expect(computeWebhookSignature(SPEC_SECRET, 'msg_1', 1, Buffer.from(body, 'utf8'))).toBe(computeWebhookSignature(SPEC_SECRET, 'msg_1', 1, body))
  })

  it('puts one signature per secret, space-separated, current first', () => {
    const other = generateWebhookSecret()
    const headers = signWebhook({id: 'msg_1', timestamp: 1_700_000_000, body: '{}'}, [other, SPEC_SECRET])
    const entries = headers['webhook-signature'].split(' ')
    expect(entries).toHaveLength(2)
    expect(entries[0]).toBe(computeWebhookSignature(other, 'msg_1', 1_700_000_000, '{}'))
    expect(entries[1]).toBe(computeWebhookSignature(SPEC_SECRET, 'msg_1', 1_700_000_000, '{}'))
  })

  it('refuses ids with a dot and non-integer timestamps', () => {
    expect(() => signWebhook({id: 'msg.1', body: '{}'}, SPEC_SECRET)).toThrowError(expect.objectContaining({code: 'WEBHOOK_ID_INVALID'}))
    expect(() => signWebhook({id: 'msg_1', timestamp: 1.5, body: '{}'}, SPEC_SECRET)).toThrowError(expect.objectContaining({code: 'WEBHOOK_TIMESTAMP_INVALID'}))
  })
})

describe('parseWebhookSecret', () => {
  it('accepts whsec_ and bare base64', () => {
    expect(parseWebhookSecret(SPEC_SECRET)).toEqual(Buffer.from('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'base64'))
    expect(parseWebhookSecret(SPEC_SECRET.slice('whsec_'.length))).toHaveLength(24)
    expect(parseWebhookSecret(generateWebhookSecret())).toHaveLength(32)
  })

  it.each([
    ['empty', 'whsec_'],
    ['not base64', 'whsec_not*base64!'],
    ['too short', `whsec_${Buffer.alloc(16).toString('base64')}`],
    ['too long', `whsec_${Buffer.alloc(65).toString('base64')}`],
  ])('refuses a secret that is %s, without echoing it', (_label, secret) => {
    let caught: unknown
    try {
      parseWebhookSecret(secret)
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(UsageError)
    expect((caught as UsageError).code).toBe('WEBHOOK_SECRET_INVALID')
    if (secret.length > 'whsec_'.length) expect((caught as UsageError).message).not.toContain(secret.slice(6))
  })
})

describe('verifyWebhook', () => {
  it('accepts the test vector at its own time', () => {
    expect(verifyWebhook(specHeaders(), SPEC_BODY, SPEC_SECRET, {now: at(NOW_MS)})).toEqual({ok: true, id: SPEC_ID, timestamp: SPEC_TIMESTAMP})
  })

  it('reads headers case-insensitively from a plain object and from Fetch Headers', () => {
    const upper = Object.fromEntries(Object.entries(specHeaders()).map(([k, v]) => [k.toUpperCase(), v]))
    expect(verifyWebhook(upper, SPEC_BODY, SPEC_SECRET, {now: at(NOW_MS)}).ok).toBe(true)
    expect(verifyWebhook(new Headers(specHeaders()), SPEC_BODY, SPEC_SECRET, {now: at(NOW_MS)}).ok).toBe(true)
  })

  it('refuses a tampered body', () => {
    const result = verifyWebhook(specHeaders(), '{"test": 2432232315}', SPEC_SECRET, {now: at(NOW_MS)})
    expect(result).toMatchObject({ok: false, reason: 'no_matching_signature'})
  })

  it('refuses the body re-serialised (whitespace matters)', () => {
    const result = verifyWebhook(specHeaders(), JSON.stringify(JSON.parse(SPEC_BODY)), SPEC_SECRET, {now: at(NOW_MS)})
    expect(result).toMatchObject({ok: false, reason: 'no_matching_signature'})
  })

  it('refuses a tampered id, since the id is signed', () => {
    const result = verifyWebhook({...specHeaders(), 'webhook-id': 'msg_other'}, SPEC_BODY, SPEC_SECRET, {now: at(NOW_MS)})
    expect(result).toMatchObject({ok: false, reason: 'no_matching_signature'})
  })

  it('refuses the wrong secret', () => {
    const result = verifyWebhook(specHeaders(), SPEC_BODY, generateWebhookSecret(), {now: at(NOW_MS)})
    expect(result).toMatchObject({ok: false, reason: 'no_matching_signature'})
    expect(webhookFailureStatus('no_matching_signature')).toBe(401)
  })

  it('accepts during a rotation: several signatures in the header, several secrets on the receiver', () => {
    const old = generateWebhookSecret()
    const headers = {...specHeaders(), 'webhook-signature': `v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v1a,AAAA ${SPEC_SIGNATURE}`}
    expect(verifyWebhook(headers, SPEC_BODY, SPEC_SECRET, {now: at(NOW_MS)}).ok).toBe(true)
    expect(verifyWebhook(specHeaders(), SPEC_BODY, [old, SPEC_SECRET], {now: at(NOW_MS)}).ok).toBe(true)
  })

  it('ignores signature entries of other versions', () => {
    const headers = {...specHeaders(), 'webhook-signature': SPEC_SIGNATURE.replace('v1,', 'v2,')}
    expect(verifyWebhook(headers, SPEC_BODY, SPEC_SECRET, {now: at(NOW_MS)})).toMatchObject({ok: false, reason: 'no_matching_signature'})
  })

  it('refuses truncated and empty signatures', () => {
    for (const signature of [SPEC_SIGNATURE.slice(0, 8), 'v1,', 'v1,dawfeoifkpqwoekfpqoekf']) {
      const result = verifyWebhook({...specHeaders(), 'webhook-signature': signature}, SPEC_BODY, SPEC_SECRET, {now: at(NOW_MS)})
      expect(result).toMatchObject({ok: false, reason: 'no_matching_signature'})
    }
  })

  it('accepts a timestamp exactly at the tolerance in both directions and refuses one second beyond', () => {
    const tolerance = WEBHOOK_TOLERANCE_SECONDS * 1000
    expect(verifyWebhook(specHeaders(), SPEC_BODY, SPEC_SECRET, {now: at(NOW_MS + tolerance)}).ok).toBe(true)
    expect(verifyWebhook(specHeaders(), SPEC_BODY, SPEC_SECRET, {now: at(NOW_MS - tolerance)}).ok).toBe(true)
    expect(verifyWebhook(specHeaders(), SPEC_BODY, SPEC_SECRET, {now: at(NOW_MS + tolerance + 1000)})).toMatchObject({ok: false, reason: 'timestamp_too_old'})
    expect(verifyWebhook(specHeaders(), SPEC_BODY, SPEC_SECRET, {now: at(NOW_MS - tolerance - 1000)})).toMatchObject({ok: false, reason: 'timestamp_too_new'})
  })

  it('checks the timestamp against the real clock by default', () => {
    expect(verifyWebhook(specHeaders(), SPEC_BODY, SPEC_SECRET)).toMatchObject({ok: false, reason: 'timestamp_too_old'})
    const fresh = signWebhook({id: 'msg_now', body: SPEC_BODY}, SPEC_SECRET)
    expect(verifyWebhook(fresh, SPEC_BODY, SPEC_SECRET).ok).toBe(true)
  })

  it.each(['webhook-id', 'webhook-timestamp', 'webhook-signature'])('reports a missing %s header as a 400', (name) => {
    const headers: Record<string, string> = specHeaders()
    delete headers[name]
    const result = verifyWebhook(headers, SPEC_BODY, SPEC_SECRET, {now: at(NOW_MS)})
    expect(result).toMatchObject({ok: false, reason: 'missing_header', header: name})
    expect(webhookFailureStatus('missing_header')).toBe(400)
  })

  it.each(['hello', '1614265330.5', '-1614265330', ''])('reports the timestamp %j as invalid or missing', (timestamp) => {
    const result = verifyWebhook({...specHeaders(), 'webhook-timestamp': timestamp}, SPEC_BODY, SPEC_SECRET, {now: at(NOW_MS)})
    expect(result.ok).toBe(false)
    expect(['invalid_header', 'missing_header']).toContain(!result.ok && result.reason)
  })

  it('never puts the secret or the signature into a failure message', () => {
    const result = verifyWebhook(specHeaders(), 'tampered', SPEC_SECRET, {now: at(NOW_MS)})
    expect(JSON.stringify(result)).not.toContain('MfKQ9r8G')
    expect(JSON.stringify(result)).not.toContain('g0hM9SsE')
  })
})

describe('WebhookVerifier and its replay cache', () => {
  it('accepts an id once and reports the repeat as a duplicate answered 200', () => {
    const verifier = new WebhookVerifier({secrets: SPEC_SECRET, now: at(NOW_MS)})
    expect(verifier.verify(specHeaders(), SPEC_BODY).ok).toBe(true)
    const repeat = verifier.verify(specHeaders(), SPEC_BODY)
    expect(repeat).toMatchObject({ok: false, reason: 'duplicate_id', id: SPEC_ID})
    expect(webhookFailureStatus('duplicate_id')).toBe(200)
  })

  it('drops a retry of the same id even when it is re-signed with a new timestamp', () => {
    let now = NOW_MS
    const verifier = new WebhookVerifier({secrets: SPEC_SECRET, now: () => now})
    expect(verifier.verify(specHeaders(), SPEC_BODY).ok).toBe(true)
    now += 60_000
    const retry = signWebhook({id: SPEC_ID, timestamp: new Date(now), body: SPEC_BODY}, SPEC_SECRET)
    expect(verifier.verify(retry, SPEC_BODY)).toMatchObject({ok: false, reason: 'duplicate_id'})
  })

  it('does not remember ids of forged requests', () => {
    const verifier = new WebhookVerifier({secrets: SPEC_SECRET, now: at(NOW_MS)})
    expect(verifier.verify(specHeaders(), 'forged').ok).toBe(false)
    expect(verifier.replayCache.size).toBe(0)
    expect(verifier.verify(specHeaders(), SPEC_BODY).ok).toBe(true)
  })

  it('lets a forgotten id through again (processing failed, sender retries)', () => {
    const verifier = new WebhookVerifier({secrets: SPEC_SECRET, now: at(NOW_MS)})
    expect(verifier.verify(specHeaders(), SPEC_BODY).ok).toBe(true)
    verifier.forget(SPEC_ID)
    expect(verifier.verify(specHeaders(), SPEC_BODY).ok).toBe(true)
  })

  it('expires entries after the TTL but not before the signed timestamp leaves the window', () => {
    const cache = new WebhookReplayCache({ttlSeconds: 10})
    expect(cache.remember('a', 1000, 1000, 300)).toBe(true)
    expect(cache.remember('a', 1299, 1299, 300)).toBe(false) // still inside 1000 + 300
    expect(cache.remember('a', 1301, 1301, 300)).toBe(true) // gone: a replay of the first would fail the timestamp check anyway

    const short = new WebhookReplayCache({ttlSeconds: 600})
    expect(short.remember('b', 1000, 1000, 300)).toBe(true)
    expect(short.remember('b', 1500, 1500, 300)).toBe(false) // TTL is longer than the window here
    expect(short.remember('b', 1601, 1601, 300)).toBe(true)
  })

  it('keeps at most maxEntries, evicting the oldest', () => {
    const cache = new WebhookReplayCache({maxEntries: 3, ttlSeconds: 3600})
    for (const id of ['a', 'b', 'c', 'd']) expect(cache.remember(id, 1000)).toBe(true)
    expect(cache.size).toBe(3)
    expect(cache.remember('a', 1001)).toBe(true) // evicted, so no longer recognised
    expect(cache.remember('d', 1001)).toBe(false)
  })

  it('sweeps expired entries so memory does not grow with time', () => {
    const cache = new WebhookReplayCache({ttlSeconds: 1, maxEntries: 1_000_000})
    for (let i = 0; i < 1000; i++) cache.remember(`id_${i}`, i, i, 0)
    expect(cache.size).toBeLessThanOrEqual(2)
  })
})

describe('over real HTTP', () => {
  let close: (() => Promise<void>) | undefined
  afterEach(async () => {
    await close?.()
    close = undefined
  })

  it('verifies the raw request body as received by a node:http server', async () => {
    const secret = generateWebhookSecret()
    const verifier = new WebhookVerifier({secrets: secret})
    const statuses: number[] = []
    const server = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = []
      req.on('data', (chunk: Buffer) => chunks.push(chunk))
      req.on('end', () => {
        const result = verifier.verify(req.headers, Buffer.concat(chunks))
        const status = result.ok ? 204 : webhookFailureStatus(result.reason)
        statuses.push(status)
        res.writeHead(status).end()
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    close = () => new Promise((resolve) => server.close(() => resolve()))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/status`
    const body = JSON.stringify({messageId: 'm1', status: 'delivered', emoji: '✅'})
    const headers = signWebhook({id: 'evt_1', body}, secret)

    const first = await fetch(url, {method: 'POST', headers: {...headers, 'content-type': 'application/json'}, body})
    const repeat = await fetch(url, {method: 'POST', headers: {...headers, 'content-type': 'application/json'}, body})
    const tampered = await fetch(url, {method: 'POST', headers: {...signWebhook({id: 'evt_2', body}, secret)}, body: body.replace('delivered', 'failed')})

    expect([first.status, repeat.status, tampered.status]).toEqual([204, 200, 401])
    expect(statuses).toEqual([204, 200, 401])
  })
})
