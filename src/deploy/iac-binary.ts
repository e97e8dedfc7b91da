import {accessSync, constants, statSync} from 'node:fs'
import {delimiter, join} from 'node:path'

export const IAC_BINARIES = ['tofu', 'terraform'] as const
export type IacBinaryName = (typeof IAC_BINARIES)[number]

/** The Terraform-compatible CLI a deploy runs. */
export interface IacBinary {
  name: IacBinaryName
  path: string
}

/**
 * Finds OpenTofu or Terraform on PATH. With both installed, `tofu` wins: it
 * is open source (MPL), and it keeps the JSON configuration syntax that
 * CDKTF — archived upstream — emits as a supported input. Terraform works
 * the same with this stack. `prefer` forces one; the state written by one
 * should not be applied with the other, so a team picks one (`--binary`).
 */
export function findIacBinary(options: {pathVariable?: string; prefer?: IacBinaryName} = {}): IacBinary | undefined {
  const directories = (options.pathVariable ?? process.env.PATH ?? '').split(delimiter).filter(Boolean)
  const order = options.prefer ? [options.prefer] : IAC_BINARIES
  for (const name of order) {
    for (const directory of directories) {
      const candidate = join(directory, name)
      if (isExecutableFile(candidate)) return {name, path: candidate}
    }
  }
  return undefined
}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}
