import {randomBytes} from 'node:crypto'
import {closeSync, fsyncSync, openSync, readFileSync, realpathSync, renameSync, rmSync, writeSync} from 'node:fs'
import {basename, dirname, join} from 'node:path'
import {parse} from 'dotenv'
import {UsageError} from '../errors/engage-error.js'

/** What `updateDotenv` did to each key it was given. */
export interface DotenvUpdateResult {
  path: string
  added: string[]
  updated: string[]
  unchanged: string[]
}

const KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]*$/
// A line that assigns a key, as dotenv reads it: optional `export `, key, `=` or `: `.
const ASSIGNMENT = /^(\s*(?:export\s+)?)([\w.-]+)(\s*=\s*|:\s+)(.*)$/
// Values that dotenv reads back verbatim without quotes.
const BARE_VALUE = /^[A-Za-z0-9_./:@%+=,~^{}[\]-]*$/

/**
 * Sets keys in a `.env` file without disturbing anything else: comments,
 * blank lines, order and unrelated keys stay as they are; an existing key is
 * replaced in place (every occurrence, so the file never holds two answers);
 * new keys are appended. The file is written to a temporary sibling and
 * renamed over the original, so a crash leaves either the old file or the new
 * one, never half of each; the result has mode 0600 because `.env` holds
 * secrets. A symlinked `.env` is updated at its target.
 */
export function updateDotenv(path: string, updates: Record<string, string>): DotenvUpdateResult {
  for (const key of Object.keys(updates)) {
    if (!KEY_PATTERN.test(key)) {
      throw new UsageError(`"${key}" is not a valid .env key`, {code: 'DOTENV_INVALID_KEY', suggestions: ['Keys are letters, digits and underscores, not starting with a digit.']})
    }
  }
  const target = resolveTarget(path)
  const original = readIfExists(target)
  const lines = original === undefined || original === '' ? [] : splitLines(original)
  const changed = new Map<string, boolean>()
  const output: string[] = []

  for (let index = 0; index < lines.length; index++) {
    const line = lines[index] as string
    const match = ASSIGNMENT.exec(line)
    const key = match?.[2]
    if (!match || key === undefined || !Object.hasOwn(updates, key)) {
      output.push(line)
      continue
    }
    // A quoted value may span lines; the whole span belongs to this key.
    const end = quotedSpanEnd(lines, index, match[4] as string)
    const oldRaw = lines.slice(index, end + 1).join('\n')
    const value = updates[key] as string
    // Every occurrence gets the new value, so dotenv's last-wins rule and a reader's eye agree.
    const same = currentValue(oldRaw, key) === value
    output.push(same ? oldRaw : `${match[1]}${key}${match[3]}${formatValue(key, value)}`)
    changed.set(key, (changed.get(key) ?? false) || !same)
    index = end
  }
  const result: DotenvUpdateResult = {path: target, added: [], updated: [], unchanged: []}
  for (const [key, value] of Object.entries(updates)) {
    const wasChanged = changed.get(key)
    if (wasChanged === undefined) {
      output.push(`${key}=${formatValue(key, value)}`)
      result.added.push(key)
    } else (wasChanged ? result.updated : result.unchanged).push(key)
  }

  const text = output.length === 0 ? '' : output.join('\n') + '\n'
  writeAtomically(target, text)
  return result
}

/** Quotes a value so that dotenv's parser gives back exactly `value`. */
export function formatValue(key: string, value: string): string {
  if (BARE_VALUE.test(value)) return value
  if (!value.includes("'") && !value.includes('\n') && !value.includes('\r')) return `'${value}'`
  // Double quotes are the only form in which dotenv expands \n; it has no escape for `"`.
  if (!value.includes('"') && !/\\[nr]/.test(value)) return `"${value.replaceAll('\n', '\\n').replaceAll('\r', '\\r')}"`
  if (!value.includes('`')) return `\`${value}\``
  throw new UsageError(`The value for ${key} mixes quote characters that a .env file cannot hold`, {
    code: 'DOTENV_UNQUOTABLE_VALUE',
    suggestions: ['Set this value in the environment instead of the .env file.'],
  })
}

// dotenv's own parser decides what the file currently says, so "unchanged" means what the app would read.
function currentValue(raw: string, key: string): string | undefined {
  return parse(raw)[key]
}

function openingQuote(value: string): '"' | "'" | '`' | undefined {
  const first = value.trimStart()[0]
  return first === '"' || first === "'" || first === '`' ? first : undefined
}

function quotedSpanEnd(lines: string[], index: number, value: string): number {
  const quote = openingQuote(value)
  if (!quote) return index
  const closing = new RegExp(`(?<!\\\\)${quote}`)
  if (closing.test(value.trimStart().slice(1))) return index
  for (let end = index + 1; end < lines.length; end++) if (closing.test(lines[end] as string)) return end
  // Unterminated: dotenv reads it as a plain value on this line.
  return index
}

function splitLines(text: string): string[] {
  const lines = text.replaceAll('\r\n', '\n').split('\n')
  if (lines.at(-1) === '') lines.pop()
  return lines
}

function resolveTarget(path: string): string {
  try {
    return realpathSync(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return path
    throw error
  }
}

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
}

/** Writes `text` to a temporary file next to `path` (mode 0600), fsyncs it, and renames it over `path`. */
export function writeAtomically(path: string, text: string | Uint8Array, mode = 0o600): void {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
  const fd = openSync(temporary, 'wx', mode)
  try {
    try {
      writeSync(fd, typeof text === 'string' ? Buffer.from(text, 'utf8') : text)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(temporary, path)
  } catch (error) {
    rmSync(temporary, {force: true})
    throw error
  }
}
