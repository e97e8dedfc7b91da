import {BaseCommand} from '../../src/cli/base-command.js'
import {generateKey, type GeneratedKey} from '../../src/keys/generate.js'

export default class KeysGenerate extends BaseCommand<typeof KeysGenerate> {
  static override summary = 'Print a new 32-byte encryption key as 64 hex characters (for ENCRYPTION_KEY).'
  static override description =
    'The key on stdout is the output: put it straight into your secret store. Its key id (not secret) goes to stderr.'

  static override examples = ['<%= config.bin %> keys generate > new.key']

  async run(): Promise<GeneratedKey> {
    const generated = generateKey()
    if (!this.jsonEnabled()) {
      this.log(generated.key)
      this.logger.info(`Key id ${generated.keyId}. To rotate: ENCRYPTION_KEY=<new> ENCRYPTION_KEY_PREVIOUS=<old> engage keys rotate`)
    }
    return generated
  }
}
