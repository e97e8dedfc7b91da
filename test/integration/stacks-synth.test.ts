import {mkdtempSync, readdirSync, readFileSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {synthStacks} from '../../stacks/main.js'

// Sentinel "secrets" set everywhere a careless stack could read them from.
const SENTINELS: Record<string, string> = {
  DATABASE_URL: 'postgres://engage:sentinel-pg-pass-90@db.internal:5432/engage',
  ENCRYPTION_KEY: 'sentinel-key-c0ffee-1234',
  BACKEND_STATUS_WEBHOOK_SECRET: 'sentinel-hook-secret-abcd',
  TF_VAR_database_url: 'postgres://engage:sentinel-tfvar-pass-12@db.internal/engage',
  TF_VAR_encryption_key: 'sentinel-tfvar-key-5678',
  TF_VAR_backend_status_webhook_secret: 'sentinel-tfvar-hook-efgh',
}

function filesUnder(directory: string): string[] {
  return readdirSync(directory).flatMap((name) => {
    const path = join(directory, name)
    return statSync(path).isDirectory() ? filesUnder(path) : [path]
  })
}

describe('synthStacks', () => {
  let dir: string
  let saved: Record<string, string | undefined>
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'engage-synth-'))
    saved = Object.fromEntries(Object.keys(SENTINELS).map((name) => [name, process.env[name]]))
    Object.assign(process.env, SENTINELS)
  })
  afterEach(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
    rmSync(dir, {recursive: true, force: true})
  })

  it('writes the Terraform JSON without the zips and without any secret value from the environment', () => {
    const result = synthStacks({env: 'dev', baseDir: dir})

    expect(result.tfJsonPath).toBe(join(dir, 'build', 'cdktf', 'stacks', 'messaging', 'cdk.tf.json'))
    const json = JSON.parse(readFileSync(result.tfJsonPath, 'utf8')) as {variable: Record<string, {sensitive?: boolean}>}
    expect(json.variable.encryption_key?.sensitive).toBe(true)
    const files = filesUnder(result.outdir)
    expect(files.length).toBeGreaterThanOrEqual(2)
    for (const file of files) {
      const text = readFileSync(file, 'utf8')
      for (const value of Object.values(SENTINELS)) expect(text.includes(value), `secret value found in ${file}`).toBe(false)
    }
  })

  it('gives the same JSON for the same environment, wherever it is written', () => {
    const first = synthStacks({env: 'dev', baseDir: join(dir, 'a')})
    const second = synthStacks({env: 'dev', baseDir: join(dir, 'b')})

    expect(readFileSync(second.tfJsonPath, 'utf8')).toBe(readFileSync(first.tfJsonPath, 'utf8'))
  })

  it('names resources after the environment', () => {
    const result = synthStacks({env: 'staging', baseDir: dir})

    const text = readFileSync(result.tfJsonPath, 'utf8')
    expect(text).toContain('"engageninja-messages-staging"')
    expect(text).toContain('"engageninja-send-campaign-message-staging"')
    expect(text).not.toContain('-dev"')
  })
})
