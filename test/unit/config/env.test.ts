import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {readDotenv, resolveSetting, Settings} from '../../../src/config/env.js'

describe('resolveSetting', () => {
  it('prefers flag, then environment, then .env, then the default', () => {
    expect(resolveSetting({flag: 'f', env: 'e', dotenv: 'd', fallback: 'x'})).toEqual({value: 'f', source: 'flag'})
    expect(resolveSetting({env: 'e', dotenv: 'd', fallback: 'x'})).toEqual({value: 'e', source: 'env'})
    expect(resolveSetting({dotenv: 'd', fallback: 'x'})).toEqual({value: 'd', source: 'dotenv'})
    expect(resolveSetting({fallback: 'x'})).toEqual({value: 'x', source: 'default'})
  })

  it('treats an empty environment value as unset', () => {
    expect(resolveSetting({env: '', dotenv: 'd', fallback: 'x'}).source).toBe('dotenv')
  })
})

describe('Settings', () => {
  let dir: string | undefined
  afterEach(() => {
    if (dir) rmSync(dir, {recursive: true, force: true})
    dir = undefined
  })

  it('reads .env without writing it into process.env', () => {
    dir = mkdtempSync(join(tmpdir(), 'engage-env-'))
    writeFileSync(join(dir, '.env'), 'ENGAGE_TEST_ONLY_VALUE=from-dotenv\nUSE_AWS_QUEUE=true\n')
    const settings = new Settings({}, readDotenv(dir))
    expect(settings.get('ENGAGE_TEST_ONLY_VALUE')).toBe('from-dotenv')
    expect(settings.bool('USE_AWS_QUEUE')).toBe(true)
    expect(process.env.ENGAGE_TEST_ONLY_VALUE).toBeUndefined()
  })

  it('lets the environment override .env', () => {
    const settings = new Settings({DATABASE_URL: 'postgres://env'}, {DATABASE_URL: 'sqlite:dotenv.db'})
    expect(settings.resolve('DATABASE_URL', undefined, 'sqlite:./engage.db')).toEqual({value: 'postgres://env', source: 'env'})
  })

  it('returns an empty map when there is no .env', () => {
    dir = mkdtempSync(join(tmpdir(), 'engage-env-'))
    expect(readDotenv(dir)).toEqual({})
  })
})
