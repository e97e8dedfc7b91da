import {Flags} from '@oclif/core'
import {DEFAULT_LOCK_TIMEOUT_MS} from '../migrate/migrator.js'

/**
 * `--lock-timeout SECONDS`: how long `migrate up` / `down` wait for another
 * writer (SQLite busy timeout, PostgreSQL advisory lock) before failing with
 * DATABASE_BUSY. Parsed to milliseconds.
 */
export const lockTimeoutFlag = Flags.custom<number>({
  summary: `Seconds to wait for another writer or migrate run before giving up (default ${DEFAULT_LOCK_TIMEOUT_MS / 1000}).`,
  helpValue: 'SECONDS',
  default: DEFAULT_LOCK_TIMEOUT_MS,
  defaultHelp: async () => String(DEFAULT_LOCK_TIMEOUT_MS / 1000),
  parse: async (input) => {
    const seconds = Number(input)
    if (!Number.isFinite(seconds) || seconds < 0 || input.trim() === '') {
      throw new Error(`--lock-timeout expects a number of seconds (0 or more), got "${input}".`)
    }
    return Math.round(seconds * 1000)
  },
})
