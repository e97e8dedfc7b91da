import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {parse} from 'dotenv'

/**
 * Configuration is read here and nowhere else. Precedence is settled by one
 * pure function: flag > environment > `.env` file > default.
 */
export type Source = 'flag' | 'env' | 'dotenv' | 'default'

export interface Resolved<T> {
  value: T
  source: Source
}

export function resolveSetting<T>(candidates: {
  flag?: T | undefined
  env?: T | undefined
  dotenv?: T | undefined
  fallback: T
}): Resolved<T> {
  if (candidates.flag !== undefined) return {value: candidates.flag, source: 'flag'}
  if (candidates.env !== undefined && candidates.env !== '') return {value: candidates.env, source: 'env'}
  if (candidates.dotenv !== undefined && candidates.dotenv !== '') return {value: candidates.dotenv, source: 'dotenv'}
  return {value: candidates.fallback, source: 'default'}
}

/** Reads `.env` from a directory without touching `process.env`; a missing file is an empty map. */
export function readDotenv(directory: string = process.cwd()): Record<string, string> {
  try {
    return parse(readFileSync(join(directory, '.env')))
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw error
  }
}

/**
 * A view over the environment and the `.env` file, in that order. Built once
 * per process by the base command (and by each Lambda from `process.env` alone).
 */
export class Settings {
  constructor(
    private readonly env: NodeJS.ProcessEnv = process.env,
    private readonly dotenv: Record<string, string> = {},
  ) {}

  static fromProcess(directory?: string): Settings {
    return new Settings(process.env, readDotenv(directory))
  }

  get(name: string): string | undefined {
    return resolveSetting<string | undefined>({env: this.env[name], dotenv: this.dotenv[name], fallback: undefined}).value
  }

  resolve(name: string, flag: string | undefined, fallback: string): Resolved<string> {
    return resolveSetting({flag, env: this.env[name], dotenv: this.dotenv[name], fallback})
  }

  bool(name: string, fallback = false): boolean {
    const raw = this.get(name)
    if (raw === undefined) return fallback
    return ['1', 'true', 'yes', 'on'].includes(raw.trim().toLowerCase())
  }
}

export const DEFAULT_DATABASE_URL = 'sqlite:./engage.db'
