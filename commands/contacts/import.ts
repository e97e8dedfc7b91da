import {readFileSync} from 'node:fs'
import {Flags} from '@oclif/core'
import {BaseCommand} from '../../src/cli/base-command.js'
import {importContacts, type ContactsImportReport} from '../../src/contacts/import-contacts.js'
import {UsageError} from '../../src/errors/engage-error.js'

export default class ContactsImport extends BaseCommand<typeof ContactsImport> {
  static override summary = "Import a tenant's contacts from a CSV file, all or nothing."
  static override description =
    'The header names the columns: name, phone, email, opted_out (any order). Phones must be E.164 (+14155550100). Any invalid row refuses the whole file, listing the rows. Re-importing updates contacts matched by phone or email instead of duplicating them; an opt-out is never cleared by an import.'

  static override flags = {
    tenant: Flags.string({summary: 'Tenant slug or id.', required: true}),
    file: Flags.string({summary: 'The CSV file (UTF-8).', required: true}),
    'dry-run': Flags.boolean({summary: 'Validate and count; write nothing.', default: false}),
  }

  async run(): Promise<ContactsImportReport> {
    let csv: string
    try {
      csv = readFileSync(this.flags.file, 'utf8')
    } catch (error) {
      throw new UsageError(`Cannot read --file ${this.flags.file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`, {
        code: 'CONTACTS_FILE_UNREADABLE',
        suggestions: ['Check the path and that the file is readable.'],
      })
    }
    const database = await this.database()
    const report = await importContacts(database, {tenant: this.flags.tenant, csv, dryRun: this.flags['dry-run']})
    if (!this.jsonEnabled()) {
      const verb = report.dryRun ? 'Dry run, nothing written: would create' : 'Created'
      this.log(`${verb} ${report.created}, ${report.dryRun ? 'update' : 'updated'} ${report.updated}, ${report.unchanged} unchanged, of ${report.rows} rows for ${report.tenantSlug}.`)
      if (report.optOutsKept > 0) this.logger.warn(`${report.optOutsKept} row(s) said opted_out=false for contacts who opted out; the opt-outs were kept.`)
    }
    return report
  }
}
