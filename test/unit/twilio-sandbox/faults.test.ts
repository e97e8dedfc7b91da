import {describe, expect, it} from 'vitest'
import {UsageError} from '../../../src/errors/engage-error.js'
import {FaultInjector, parseBehaviourPatch} from '../../../src/twilio-sandbox/faults.js'

const outcomes = (injector: FaultInjector, n: number) => Array.from({length: n}, () => injector.nextSendFault()?.code ?? 0)

describe('FaultInjector', () => {
  it('fails exactly every Nth create', () => {
    const injector = new FaultInjector({sendFailures: {everyNth: 3, status: 429}})
    expect(outcomes(injector, 9)).toEqual([0, 0, 20429, 0, 0, 20429, 0, 0, 20429])
  })

  it('repeats the same failures for the same seed and differs for another', () => {
    const a = outcomes(new FaultInjector({sendFailures: {ratio: 0.3, seed: 11}}), 200)
    const b = outcomes(new FaultInjector({sendFailures: {ratio: 0.3, seed: 11}}), 200)
    const c = outcomes(new FaultInjector({sendFailures: {ratio: 0.3, seed: 12}}), 200)
    expect(a).toEqual(b)
    expect(a).not.toEqual(c)
    const failed = a.filter((code) => code !== 0).length
    expect(failed).toBeGreaterThan(40)
    expect(failed).toBeLessThan(80)
  })

  it('answers 500 / 20500 when told to', () => {
    expect(new FaultInjector({sendFailures: {everyNth: 1, status: 500}}).nextSendFault()).toMatchObject({status: 500, code: 20500})
  })

  it('restarts a seeded sequence when the rule is set again', () => {
    const injector = new FaultInjector({sendFailures: {ratio: 0.5, seed: 3}})
    const first = outcomes(injector, 20)
    injector.configure({sendFailures: {ratio: 0.5, seed: 3}})
    expect(outcomes(injector, 20)).toEqual(first)
  })

  it('refuses opted-out and configured recipients, with or without the whatsapp: prefix', () => {
    const injector = new FaultInjector({optedOut: ['+15550000001'], rejectRecipients: {'+15550000002': 21211, '+15550000003': 21612}})
    expect(injector.recipientRejection('whatsapp:+15550000001')).toMatchObject({status: 400, code: 21610})
    expect(injector.recipientRejection('+15550000002')).toMatchObject({code: 21211})
    expect(injector.recipientRejection('+15550000003')).toMatchObject({code: 21612})
    expect(injector.recipientRejection('+15550000004')).toBeUndefined()
  })
})

describe('parseBehaviourPatch', () => {
  it('accepts a full patch', () => {
    expect(parseBehaviourPatch({latencyMs: 50, sendFailures: {ratio: 0.1, seed: 1}, callbacks: {twice: true, lateByMs: 20}, failDelivery: {'+15550000001': 30003}})).toEqual({
      latencyMs: 50,
      sendFailures: {ratio: 0.1, everyNth: undefined, status: 429, seed: 1},
      callbacks: {twice: true, lateByMs: 20},
      failDelivery: {'+15550000001': {code: 30003, status: undefined}},
    })
  })

  it.each([
    [{latencyMs: -1}, /latencyMs/],
    [{sendFailures: {ratio: 2}}, /ratio/],
    [{sendFailures: {ratio: 0.1, everyNth: 2}}, /exactly one/],
    [{sendFailures: {everyNth: 2, status: 503}}, /429 or 500/],
    [{callbacks: {twice: 'yes'}}, /twice/],
    [{callbacks: {maxAttempts: 0}}, /maxAttempts/],
    [{callbacks: {sometimes: true}}, /unknown callbacks setting/],
    [{unknown: 1}, /unknown setting/],
    [[], /JSON object/],
  ])('refuses %j', (input, message) => {
    expect(() => parseBehaviourPatch(input)).toThrow(UsageError)
    expect(() => parseBehaviourPatch(input)).toThrow(message)
  })
})
