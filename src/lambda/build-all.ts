import {resolve} from 'node:path'
import {buildLambdaBundles, type LambdaBundle} from './bundle.js'
import {projectRoot} from '../config/project-root.js'
import {DEFAULT_BUNDLE_DIR, entryPath, LAMBDA_FUNCTIONS, type LambdaFunctionSpec} from './functions.js'

/**
 * Builds the zips of every function in the registry (`LAMBDA_FUNCTIONS`, or
 * `functions` when given) from the engage sources into `outDir` (default
 * `build/lambda` under the working directory). Fails, writing nothing, when
 * a handler entry is missing.
 */
export async function buildAllLambdas(options: {outDir?: string; functions?: readonly LambdaFunctionSpec[]} = {}): Promise<{outDir: string; bundles: LambdaBundle[]}> {
  const root = projectRoot()
  const outDir = resolve(options.outDir ?? DEFAULT_BUNDLE_DIR)
  const bundles = await buildLambdaBundles({
    rootDir: root,
    outDir,
    entries: (options.functions ?? LAMBDA_FUNCTIONS).map((spec) => ({name: spec.name, entry: entryPath(spec, root)})),
  })
  return {outDir, bundles}
}
