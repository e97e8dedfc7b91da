import {readFileSync} from 'node:fs'
import {UsageError} from '../errors/engage-error.js'

/**
 * The campaign body from exactly one of --body or --body-file. A file is
 * read as UTF-8 without its byte order mark and without the line break(s)
 * editors add at the end, which would otherwise cost an SMS character.
 */
export function readCampaignBody(flags: {body?: string; bodyFile?: string}): string {
  if (flags.body !== undefined && flags.bodyFile !== undefined) {
    throw new UsageError('Pass either --body or --body-file, not both.', {code: 'CAMPAIGN_BODY_TWICE'})
  }
  if (flags.bodyFile !== undefined) {
    let text: string
    try {
      text = readFileSync(flags.bodyFile, 'utf8')
    } catch (error) {
      throw new UsageError(`Cannot read --body-file ${flags.bodyFile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`, {
        code: 'CAMPAIGN_BODY_FILE_UNREADABLE',
        suggestions: ['Check the path and that the file is readable.'],
      })
    }
    return text.replace(/^\uFEFF/, '').replace(/(?:\r?\n)+$/, '')
  }
  if (flags.body !== undefined) return flags.body
  throw new UsageError('The campaign needs a body.', {code: 'CAMPAIGN_BODY_MISSING', suggestions: ['Pass --body "…" or --body-file PATH.']})
}
