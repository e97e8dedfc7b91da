import {spawn, type ChildProcess} from 'node:child_process'
import {createRequire} from 'node:module'
import {UsageError} from '../errors/engage-error.js'

/** An emulator running in a child process on 127.0.0.1. */
export interface ChildEmulator {
  name: string
  /** http://127.0.0.1:PORT */
  url: string
  port: number
  stop(): Promise<void>
}

const require = createRequire(import.meta.url)

/**
 * The children run in their own process group, so a Ctrl-C in the terminal
 * reaches only `engage dev`, which stops them after the workers that use
 * them. Each exits when its stdin closes, which happens when `engage dev`
 * dies in any way (even SIGKILL): no emulator is left holding a port.
 */
const EXIT_WITH_PARENT = `process.stdin.on('end', () => process.exit(0)); process.stdin.on('error', () => process.exit(0)); process.stdin.resume()`

/**
 * fauxqs' `startFauxqs()` and CLI always listen on 0.0.0.0, so the child
 * builds the app with the exported `buildApp()` and listens on loopback
 * itself, then prints its port. State lives in memory and dies with it.
 */
const FAUXQS_CHILD = `
const {buildApp} = await import(process.env.FAUXQS_MODULE)
const app = buildApp({logger: false, defaultRegion: process.env.FAUXQS_REGION})
await app.listen({port: Number(process.env.FAUXQS_PORT), host: '127.0.0.1'})
process.stdout.write('listening ' + app.server.address().port + '\\n')
const stop = () => app.close().then(() => process.exit(0))
process.on('SIGTERM', stop)
${EXIT_WITH_PARENT}
`

/** The SQS emulator (fauxqs, a development dependency) on 127.0.0.1:`port` (0 picks one). */
export async function startSqsEmulator(options: {port: number; region: string}): Promise<ChildEmulator> {
  let module: string
  try {
    module = import.meta.resolve('fauxqs')
  } catch (error) {
    throw missingEmulator('fauxqs', error)
  }
  const child = spawn(process.execPath, ['--input-type=module', '-e', FAUXQS_CHILD], {
    env: {PATH: process.env.PATH ?? '', FAUXQS_MODULE: module, FAUXQS_REGION: options.region, FAUXQS_PORT: String(options.port)},
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  })
  const port = await portFrom(child, 'SQS emulator (fauxqs)', /listening (\d+)/)
  return emulator('sqs', child, port, '/health')
}

/** The SES emulator (aws-ses-v2-local, a development dependency) through its own CLI on 127.0.0.1:`port`. */
export async function startSesEmulator(options: {port: number}): Promise<ChildEmulator> {
  let cli: string
  try {
    cli = require.resolve('aws-ses-v2-local/dist/cli.js')
  } catch (error) {
    throw missingEmulator('aws-ses-v2-local', error)
  }
  // Its CLI runs on import and reads process.argv; the wrapper adds the exit-with-parent watch.
  const wrapper = `process.argv = [process.argv[0], process.env.SES_CLI, '--host', '127.0.0.1', '--port', process.env.SES_PORT]
${EXIT_WITH_PARENT}
const {pathToFileURL} = await import('node:url')
await import(pathToFileURL(process.env.SES_CLI).href)`
  // A clean environment: SMTP_TRANSPORT in ours would make it forward mail to a real server.
  const child = spawn(process.execPath, ['--input-type=module', '-e', wrapper], {env: {PATH: process.env.PATH ?? '', SES_CLI: cli, SES_PORT: String(options.port)}, stdio: ['pipe', 'pipe', 'pipe'], detached: true})
  // It prints "server running at http://localhost:<port>" (naming 127.0.0.1 localhost).
  const port = await portFrom(child, 'SES emulator (aws-ses-v2-local)', /server running at \S+:(\d+)/)
  return emulator('ses', child, port, '/health-check')
}

function missingEmulator(name: string, cause: unknown): UsageError {
  return new UsageError(`The ${name} emulator is not installed: \`engage dev\` needs the development dependencies.`, {
    code: 'DEV_EMULATOR_MISSING',
    cause,
    suggestions: ['Run `npm ci` (not --omit=dev) in the engage checkout, then `npx engage dev` from it.'],
  })
}

function portFrom(child: ChildProcess, name: string, pattern: RegExp, timeoutMs = 20_000): Promise<number> {
  let output = ''
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new UsageError(`The ${name} did not start within ${timeoutMs / 1000} s.`, {code: 'DEV_EMULATOR_START_FAILED', suggestions: [output.trim().slice(-300) || 'Re-run with --log-level debug.']}))
    }, timeoutMs)
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      const match = pattern.exec(output)
      if (match) {
        clearTimeout(timer)
        resolve(Number(match[1]))
      }
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.once('exit', (code) => {
      clearTimeout(timer)
      const inUse = /EADDRINUSE/.test(output)
      reject(
        new UsageError(`The ${name} exited (${code}) before it started${inUse ? ': its port is in use' : ''}.`, {
          code: 'DEV_EMULATOR_START_FAILED',
          suggestions: [inUse ? 'Pick another port with the --*-port flags, or 0 for a free one.' : output.trim().slice(-300) || 'Re-run with --log-level debug.'],
        }),
      )
    })
  })
}

async function emulator(name: string, child: ChildProcess, port: number, healthPath: string): Promise<ChildEmulator> {
  const url = `http://127.0.0.1:${port}`
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve()
      const force = setTimeout(() => child.kill('SIGKILL'), 5_000)
      child.once('exit', () => {
        clearTimeout(force)
        resolve()
      })
      child.kill('SIGTERM')
    })
  const health = await fetch(url + healthPath).catch((error: Error) => error)
  if (health instanceof Error || !health.ok) {
    await stop()
    throw new UsageError(`The ${name} emulator on ${url} does not answer its health check.`, {code: 'DEV_EMULATOR_START_FAILED'})
  }
  return {name, url, port, stop}
}
