/**
 * Credential encryption throughput on one core: encryptField / decryptField
 * (the ev1 envelope) beside Node's bare aes-256-gcm calls on the same value in
 * the same run. Prints ops/s and the ratio; no assertions.
 *
 *   node --import tsx bench/crypto.ts [--seconds 2]
 */
import {createCipheriv, createDecipheriv, randomBytes} from 'node:crypto'
import {keyIdOf, type EncryptionKey} from '../src/crypto/encryption-key.js'
import {decryptField, encryptField} from '../src/crypto/envelope.js'
import {median} from './support/median.js'

const seconds = Number(process.argv[process.argv.indexOf('--seconds') + 1]) || 0.5
const raw = randomBytes(32)
const key: EncryptionKey = {id: keyIdOf(raw), key: raw}
const context = {tenantId: 't0001234', channel: 'sms', field: 'credentials'}
const value = JSON.stringify({accountSid: `AC${randomBytes(16).toString('hex')}`, authToken: randomBytes(16).toString('hex')})
const valueBytes = Buffer.from(value, 'utf8')
const aad = Buffer.from(`ev1\u001f${context.tenantId}\u001f${context.channel}\u001f${context.field}`, 'utf8')
const iv = randomBytes(12)

/** Runs `work` in rounds for about `seconds`, after a warm-up; returns operations per second. */
function measure(work: () => unknown): number {
  for (let i = 0; i < 20_000; i++) work()
  let operations = 0
  const started = process.hrtime.bigint()
  const budget = BigInt(Math.round(seconds * 1e9))
  while (process.hrtime.bigint() - started < budget) {
    for (let i = 0; i < 1000; i++) work()
    operations += 1000
  }
  return operations / (Number(process.hrtime.bigint() - started) / 1e9)
}

const bareEncrypt = () => {
  const cipher = createCipheriv('aes-256-gcm', raw, iv, {authTagLength: 16})
  cipher.setAAD(aad)
  const body = Buffer.concat([cipher.update(valueBytes), cipher.final()])
  return [body, cipher.getAuthTag()]
}
const [bareBody, bareTag] = bareEncrypt() as [Buffer, Buffer]
const bareDecrypt = () => {
  const decipher = createDecipheriv('aes-256-gcm', raw, iv, {authTagLength: 16})
  decipher.setAAD(aad)
  decipher.setAuthTag(bareTag)
  return Buffer.concat([decipher.update(bareBody), decipher.final()])
}
const envelope = encryptField(key, value, context)

// Alternate the two sides in several rounds and keep the median: the machine is shared, so one long run is noisy.
function compare(envelopeWork: () => unknown, bareWork: () => unknown): [number, number] {
  const a: number[] = []
  const b: number[] = []
  for (let round = 0; round < 5; round++) {
    a.push(measure(envelopeWork))
    b.push(measure(bareWork))
  }
  return [median(a), median(b)]
}

const rows = [
  ['encrypt', ...compare(() => encryptField(key, value, context), bareEncrypt)],
  ['decrypt', ...compare(() => decryptField(key, envelope, context), bareDecrypt)],
] as const

console.log(`Credential value: ${valueBytes.length} bytes; ${seconds}s per measurement, median of 5 alternating rounds, one core (Node ${process.version}).`)
console.log('operation  encryptField/decryptField   bare aes-256-gcm   bare/envelope (target ≤ 1.5×)')
for (const [name, envelopeOps, bareOps] of rows) {
  console.log(`${name.padEnd(9)}  ${Math.round(envelopeOps).toLocaleString('en-US').padStart(20)} ops/s  ${Math.round(bareOps).toLocaleString('en-US').padStart(12)} ops/s  ${(bareOps / envelopeOps).toFixed(2).padStart(8)}×`)
}
