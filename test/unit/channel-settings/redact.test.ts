import {describe, expect, it} from 'vitest'
import {redact} from '../../../src/channel-settings/redact.js'

describe('redact', () => {
  it('keeps the first and last four characters of an identifier', () => {
    expect(redact('AC1234567890abcdef1234567890ab89ab')).toBe('AC12…89ab')
    expect(redact('AKIAIOSFODNN7EXAMPLE')).toBe('AKIA…MPLE')
  })

  it('hides short values entirely and passes through absence', () => {
    expect(redact('short-value')).toBe('…')
    expect(redact('')).toBeNull()
    expect(redact(null)).toBeNull()
    expect(redact(undefined)).toBeNull()
  })
})
