import {describe, expect, it} from 'vitest'
import {lambdaPoolSize} from '../../../src/lambda/pool-size.js'

describe('lambdaPoolSize', () => {
  const from = (value: string | undefined) => (name: string) => (name === 'PG_POOL_MAX' ? value : undefined)

  it('uses PG_POOL_MAX, the size the stack budgeted, over the fallback', () => {
    expect(lambdaPoolSize(from('2'), 4)).toBe(2)
    expect(lambdaPoolSize(from(' 7 '), 4)).toBe(7)
  })

  it('falls back only when PG_POOL_MAX is unset or blank', () => {
    expect(lambdaPoolSize(from(undefined), 4)).toBe(4)
    expect(lambdaPoolSize(from(''), 3)).toBe(3)
  })

  it('refuses a value that is not a positive integer, naming the variable', () => {
    for (const bad of ['0', '-1', '1.5', 'two']) expect(() => lambdaPoolSize(from(bad), 4)).toThrow(/PG_POOL_MAX must be a positive integer/)
  })
})
