import {existsSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

/**
 * The engage project root (the directory holding engage's package.json),
 * found by walking up from this module, so it is the same whether the code
 * runs from the TypeScript sources or from a linked chunk in `dist/chunks`
 * (where a path relative to the source file would be wrong).
 */
export function projectRoot(): string {
  let directory = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    if (existsSync(join(directory, 'package.json'))) return directory
    const parent = dirname(directory)
    if (parent === directory) throw new Error('engage project root not found')
    directory = parent
  }
}
