import {Flags} from '@oclif/core'
import {relative} from 'node:path'
import {BaseCommand} from '../../src/cli/base-command.js'
import type {LambdaBundle} from '../../src/lambda/bundle.js'
import {buildAllLambdas} from '../../src/lambda/build-all.js'
import {DEFAULT_BUNDLE_DIR} from '../../src/lambda/functions.js'

export default class LambdaBuild extends BaseCommand<typeof LambdaBuild> {
  static override summary = 'Bundle the Lambda handlers into deterministic zips.'
  static override description = [
    'Bundles each handler (SendCampaignMessage, UpdateMessageStatus, the Twilio webhook) with esbuild into one',
    'minified ESM file for Node 22 and zips it to build/lambda/<function>.zip. The same sources give the same',
    'zip bytes (SHA-256). A handler that would need a native module (better-sqlite3, a .node file) is refused.',
    'Nothing is written unless every bundle builds.',
  ].join('\n')

  static override examples = ['<%= config.bin %> lambda build', '<%= config.bin %> lambda build --json']

  static override flags = {
    'out-dir': Flags.string({summary: 'Directory for the zips.', default: DEFAULT_BUNDLE_DIR}),
  }

  public async run(): Promise<{outDir: string; bundles: LambdaBundle[]}> {
    const result = await buildAllLambdas({outDir: this.flags['out-dir']})
    if (!this.jsonEnabled()) {
      for (const bundle of result.bundles) {
        this.log(`${bundle.name.padEnd(24)} ${formatBytes(bundle.bytes).padStart(9)}  ${relative(process.cwd(), bundle.zipPath)}  sha256:${bundle.sha256}`)
      }
    }
    return result
  }
}

function formatBytes(bytes: number): string {
  return bytes < 1024 ? `${bytes} B` : bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1024 / 1024).toFixed(2)} MiB`
}
