import {chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {parse} from 'dotenv'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {formatValue, updateDotenv} from '../../../src/config/dotenv-writer.js'
import {UsageError} from '../../../src/errors/engage-error.js'

describe('updateDotenv', () => {
  let dir: string
  let path: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'engage-dotenv-'))
    path = join(dir, '.env')
  })
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  it('replaces existing keys in place and appends new ones, keeping comments, blanks and order', () => {
    writeFileSync(path, ['# local settings', 'DATABASE_URL=sqlite:./engage.db', '', 'export SQS_QUEUE_URL=http://old/queue # old', 'KEEP_ME="a b"', ''].join('\n'))

    const result = updateDotenv(path, {SQS_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/1/q', SQS_DLQ_URL: 'https://sqs/dlq'})

    expect(readFileSync(path, 'utf8')).toBe(
      [
        '# local settings',
        'DATABASE_URL=sqlite:./engage.db',
        '',
        'export SQS_QUEUE_URL=https://sqs.eu-west-1.amazonaws.com/1/q',
        'KEEP_ME="a b"',
        'SQS_DLQ_URL=https://sqs/dlq',
        '',
      ].join('\n'),
    )
    expect(result).toMatchObject({added: ['SQS_DLQ_URL'], updated: ['SQS_QUEUE_URL'], unchanged: []})
  })

  it('creates a missing file with mode 0600 and tightens the mode of an existing one', () => {
    updateDotenv(path, {A: '1'})
    expect(statSync(path).mode & 0o777).toBe(0o600)
    chmodSync(path, 0o644)

    updateDotenv(path, {B: '2'})

    expect(statSync(path).mode & 0o777).toBe(0o600)
    expect(parse(readFileSync(path))).toEqual({A: '1', B: '2'})
  })

  it('reports unchanged keys and leaves their text exactly as it was', () => {
    writeFileSync(path, "Q='http://x/q'   # keep this comment\n")

    const result = updateDotenv(path, {Q: 'http://x/q'})

    expect(result).toMatchObject({added: [], updated: [], unchanged: ['Q']})
    expect(readFileSync(path, 'utf8')).toBe("Q='http://x/q'   # keep this comment\n")
  })

  it('replaces a multi-line quoted value as one unit', () => {
    writeFileSync(path, 'BEFORE=1\nPEM="-----BEGIN-----\nabc\n-----END-----"\nAFTER=2\n')

    updateDotenv(path, {PEM: 'short'})

    expect(readFileSync(path, 'utf8')).toBe('BEFORE=1\nPEM=short\nAFTER=2\n')
  })

  it('rewrites every duplicate so the last-wins reader sees the new value', () => {
    writeFileSync(path, 'X=1\nY=2\nX=3\n')

    updateDotenv(path, {X: '9'})

    expect(readFileSync(path, 'utf8')).toBe('X=9\nY=2\nX=9\n')
  })

  it('adds a newline before appending to a file that lacks one', () => {
    writeFileSync(path, 'A=1')
    updateDotenv(path, {B: '2'})
    expect(readFileSync(path, 'utf8')).toBe('A=1\nB=2\n')
  })

  it('writes through a symlink to its target and leaves no temporary file behind', () => {
    const real = join(dir, 'real.env')
    writeFileSync(real, 'A=1\n')
    symlinkSync(real, path)

    updateDotenv(path, {A: '2'})

    expect(readFileSync(real, 'utf8')).toBe('A=2\n')
    expect(readdirSync(dir).sort()).toEqual(['.env', 'real.env'])
  })

  it('refuses an invalid key and leaves the file untouched', () => {
    writeFileSync(path, 'A=1\n')
    expect(() => updateDotenv(path, {'BAD KEY': 'x', A: '2'})).toThrow(UsageError)
    expect(readFileSync(path, 'utf8')).toBe('A=1\n')
  })
})

describe('formatValue', () => {
  it.each([
    ['plain', 'https://sqs.us-east-1.amazonaws.com/123/engageninja-messages-dev'],
    ['spaces and hash', 'a b # not a comment'],
    ['single quote', "it's"],
    ['newline', 'line1\nline2'],
    ['both quotes', `say "it's"`],
    ['empty', ''],
  ])('round-trips %s through dotenv', (_name, value) => {
    expect(parse(`K=${formatValue('K', value)}\n`).K).toBe(value)
  })

  it('refuses a value no dotenv quoting can hold', () => {
    expect(() => formatValue('K', 'a\'b"c`d\ne')).toThrow(/mixes quote characters/)
  })
})
