/** Log levels, most severe first. Logs go to stderr: stdout is data. */
export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export interface Logger {
  error(message: string): void
  warn(message: string): void
  info(message: string): void
  debug(message: string): void
}

export function createLogger(level: LogLevel, write: (line: string) => void = (line) => process.stderr.write(line + '\n')): Logger {
  const threshold = LOG_LEVELS.indexOf(level)
  const at = (name: LogLevel) => (message: string) => {
    if (LOG_LEVELS.indexOf(name) <= threshold) write(name === 'info' ? message : `${name}: ${message}`)
  }
  return {error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug')}
}

export const silentLogger: Logger = {error() {}, warn() {}, info() {}, debug() {}}
