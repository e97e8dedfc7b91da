import {execFileSync} from 'node:child_process'
import {PROJECT_ROOT} from './run-cli.js'

/** Tests spawn the built CLI, so build once before any suite runs. */
export default function setup(): void {
  if (process.env.ENGAGE_TEST_BIN === 'dev') return
  execFileSync('npm', ['run', '--silent', 'build'], {cwd: PROJECT_ROOT, stdio: 'inherit'})
}
