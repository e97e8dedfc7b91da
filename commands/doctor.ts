import {BaseCommand} from '../src/cli/base-command.js'
import {doctorFailure, renderDoctorReport, runDoctor, type DoctorReport} from '../src/doctor/index.js'

export default class Doctor extends BaseCommand<typeof Doctor> {
  static override summary = 'Check the whole setup: database, migrations, key, tenants, queues, webhooks; ✓ or ✗ with the fix.'
  static override description = `Checks, in order: the database is reachable; migrations are current (none pending or drifted); ENCRYPTION_KEY decrypts every stored value; each enabled tenant channel is verified; the local queue and, when SQS_QUEUE_URL is set, SQS and its DLQ answer (with depths); the Twilio webhook at WEBHOOK_BASE_URL/webhooks/twilio refuses a bad signature with 403 and accepts a callback signed with a tenant's token for a SID that exists nowhere (the kept row is removed again); BACKEND_STATUS_WEBHOOK_URL refuses a badly signed ping with 401 and verifies one signed with BACKEND_STATUS_WEBHOOK_SECRET.
Exit 0 when every check passes; otherwise the exit code of the first failure's kind (3 database, 4 migrations, 5 key, 6 provider or webhook, 2 configuration). --json prints {ok, checks[]}.`
  static override examples = ['<%= config.bin %> doctor', '<%= config.bin %> doctor --json']

  public async run(): Promise<DoctorReport> {
    const report = await runDoctor({databaseUrl: this.databaseUrl(), settings: this.settings, logger: this.logger})
    const failure = doctorFailure(report)
    const printable = {ok: report.ok, checks: report.checks.map(({failsAs: _, ...check}) => check)}
    if (this.jsonEnabled()) {
      // One document: the checks, and the error when there is one; then the exit code.
      if (failure) {
        this.logJson({...printable, error: failure.toJSON()})
        this.exit(failure.exitCode)
      }
      return printable
    }
    for (const line of renderDoctorReport(report)) this.log(line)
    if (failure) throw failure
    return printable
  }
}
