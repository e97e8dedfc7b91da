import {Command, Errors, Flags, type Interfaces} from '@oclif/core'
import {DEFAULT_DATABASE_URL, Settings} from '../config/env.js'
import {openDatabase, type Database, type OpenDatabaseOptions} from '../db/database.js'
import {isEngageError} from '../errors/engage-error.js'
import {createLogger, LOG_LEVELS, type Logger, type LogLevel} from './logger.js'

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)['baseFlags'] & T['flags']>
export type BaseArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>

/**
 * Shared flags, configuration and error handling for every engage command.
 * Commands stay thin: parse, call one function in `src/`, render its result.
 */
export abstract class BaseCommand<T extends typeof Command> extends Command {
  static override enableJsonFlag = true

  static override baseFlags = {
    'database-url': Flags.string({
      summary: 'Database: sqlite:PATH, file:PATH or postgres://… (env DATABASE_URL; default sqlite:./engage.db).',
      helpGroup: 'GLOBAL',
    }),
    'log-level': Flags.option({
      options: LOG_LEVELS,
      default: 'info' as LogLevel,
      summary: 'How much to log on stderr; debug also prints stack traces.',
      helpGroup: 'GLOBAL',
    })(),
  }

  protected flags!: BaseFlags<T>
  protected args!: BaseArgs<T>
  protected settings!: Settings
  protected logger!: Logger
  private openDatabases: Database[] = []

  public override async init(): Promise<void> {
    await super.init()
    const {args, flags} = await this.parse({
      flags: this.ctor.flags,
      baseFlags: (super.ctor as typeof BaseCommand).baseFlags,
      enableJsonFlag: this.ctor.enableJsonFlag,
      args: this.ctor.args,
      strict: this.ctor.strict,
    })
    this.flags = flags as BaseFlags<T>
    this.args = args as BaseArgs<T>
    this.settings = Settings.fromProcess()
    const level = this.flags['log-level'] as LogLevel
    this.logger = createLogger(this.jsonEnabled() && level === 'info' ? 'warn' : level)
  }

  /** The database URL by precedence: --database-url > DATABASE_URL > .env > sqlite:./engage.db. */
  protected databaseUrl(): string {
    return this.settings.resolve('DATABASE_URL', this.flags['database-url'], DEFAULT_DATABASE_URL).value
  }

  /** Opens the configured database; it is closed when the command ends, whatever happens. */
  protected async database(options: OpenDatabaseOptions = {}): Promise<Database> {
    const database = await openDatabase(this.databaseUrl(), options)
    this.openDatabases.push(database)
    return database
  }

  /** True when stderr is a terminal and --json is off: progress may render. */
  protected get interactive(): boolean {
    return !this.jsonEnabled() && Boolean(process.stderr.isTTY)
  }

  protected override async catch(error: Error & {exitCode?: number}): Promise<unknown> {
    if (isEngageError(error)) {
      if (this.jsonEnabled()) this.logJson({error: error.toJSON()})
      else {
        process.stderr.write(`Error [${error.code}]: ${error.message}\n`)
        for (const suggestion of error.suggestions) process.stderr.write(`  → ${suggestion}\n`)
      }
      if (this.flags?.['log-level'] === 'debug' && error.stack) process.stderr.write(`${error.stack}\n`)
      this.exit(error.exitCode)
    }
    if (error instanceof Errors.ExitError || error instanceof Errors.CLIError || !this.flags) return super.catch(error)
    // Unknown errors: one short line; the stack only on request.
    if (this.jsonEnabled()) this.logJson({error: {code: 'UNEXPECTED', message: error.message}})
    else process.stderr.write(`Error [UNEXPECTED]: ${error.message}\n  → Re-run with --log-level debug for details.\n`)
    if (this.flags['log-level'] === 'debug' && error.stack) process.stderr.write(`${error.stack}\n`)
    this.exit(1)
  }

  protected override async finally(error: Error | undefined): Promise<unknown> {
    await Promise.allSettled(this.openDatabases.map((database) => database.close()))
    this.openDatabases = []
    return super.finally(error)
  }
}
