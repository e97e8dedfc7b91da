import {readFile, stat, writeFile} from 'node:fs/promises'
import {UsageError} from '../errors/engage-error.js'
import {parseSeed, type SandboxSeed} from './seed.js'

export interface LoadedSeed {
  seed: SandboxSeed
  /** True when group or others may read the file: it holds auth tokens. */
  readableByOthers: boolean
}

/** Reads and checks a seed file (JSON, see `SandboxSeed`). Errors name the file, never its tokens. */
export async function loadSeedFile(path: string): Promise<LoadedSeed> {
  let text: string
  let mode: number
  try {
    text = await readFile(path, 'utf8')
    mode = (await stat(path)).mode
  } catch (cause) {
    throw new UsageError(`Cannot read the Twilio sandbox seed file ${path}: ${(cause as NodeJS.ErrnoException).code ?? 'error'}`, {
      code: 'SANDBOX_SEED_UNREADABLE',
      cause,
      suggestions: ['Pass the path of a JSON seed file, or omit --seed to start with a generated account.'],
    })
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new UsageError(`The Twilio sandbox seed file ${path} is not valid JSON`, {code: 'SANDBOX_SEED_INVALID'})
  }
  return {seed: parseSeed(json, `seed file ${path}`), readableByOthers: process.platform !== 'win32' && (mode & 0o077) !== 0}
}

/** Writes a seed (tokens included) to a new file only its owner can read; an existing file is never overwritten. */
export async function writeSeedFile(path: string, seed: SandboxSeed): Promise<void> {
  try {
    await writeFile(path, JSON.stringify(seed, null, 2) + '\n', {mode: 0o600, flag: 'wx'})
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code
    throw new UsageError(`Cannot write the Twilio sandbox seed to ${path}: ${code === 'EEXIST' ? 'the file exists' : (code ?? 'error')}`, {
      code: 'SANDBOX_SEED_UNWRITABLE',
      cause,
      suggestions: ['Name a file that does not exist yet; it will hold auth tokens, readable by you only.'],
    })
  }
}
