import type {EngageError} from '../errors/engage-error.js'

/** One line of `engage doctor`: passed or not, what was seen, and the fix when it failed. */
export interface DoctorCheck {
  name: string
  ok: boolean
  /** What was found (never a secret). */
  detail: string
  /** What to do about it, when not ok. */
  fix?: string
  /** The error class a failure of this check maps to, for the exit code. */
  failsAs?: new (message: string, options: {code: string}) => EngageError
}

export interface DoctorReport {
  ok: boolean
  checks: DoctorCheck[]
}
