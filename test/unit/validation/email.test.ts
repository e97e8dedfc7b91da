import {describe, expect, it} from 'vitest'
import {assertEmailAddress, isEmailAddress} from '../../../src/validation/email.js'

describe('email address validation', () => {
  it.each([
    ['news@acme.example', true],
    ['first.last+tag@sub.acme.co.uk', true],
    ['x@y.io', true],
    ['news-at-acme', false],
    ['news@acme', false],
    ['news@@acme.example', false],
    ['news @acme.example', false],
    ['Acme <news@acme.example>', false],
    ['news@-acme.example', false],
    [`${'a'.repeat(250)}@acme.example`, false],
  ])('isEmailAddress(%s) is %s', (value, expected) => {
    expect(isEmailAddress(value)).toBe(expected)
  })

  it('assertEmailAddress trims, or throws a UsageError naming the flag', () => {
    expect(assertEmailAddress(' news@acme.example ', '--from')).toBe('news@acme.example')
    expect(() => assertEmailAddress('nope', '--from')).toThrow(/--from "nope" is not an email address/)
  })
})
