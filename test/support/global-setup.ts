import {execFileSync} from 'node:child_process'
import {PROJECT_ROOT} from './run-cli.js'

/**
 * Tests spawn the built CLI, so build once before any suite runs. The build
 * runs as a user's would: vitest sets NODE_ENV=test, under which oclif maps
 * dist/ back to the TypeScript sources and would write those paths into the
 * manifest, so the build gets a production environment of its own.
 */
export default function setup(): void {
  if (process.env.ENGAGE_TEST_BIN === 'dev') return
  execFileSync('npm', ['run', '--silent', 'build'], {
    cwd: PROJECT_ROOT,
    stdio: 'inherit',
    env: {...process.env, NODE_ENV: 'production'},
  })
}
