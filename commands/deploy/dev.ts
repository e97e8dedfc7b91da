import {Flags} from '@oclif/core'
import {resolve} from 'node:path'
import {BaseCommand} from '../../src/cli/base-command.js'
import {confirmAction} from '../../src/cli/confirm.js'
import {createStepProgress} from '../../src/cli/progress.js'
import {canPrompt} from '../../src/cli/prompts.js'
import {deployDev, type DeployDevResult, type DeployMode} from '../../src/deploy/deploy-dev.js'
import {findIacBinary, IAC_BINARIES} from '../../src/deploy/iac-binary.js'
import {UsageError} from '../../src/errors/engage-error.js'

export default class DeployDev extends BaseCommand<typeof DeployDev> {
  static override summary = 'Build, synthesize, plan and apply the messaging stack to the dev workspace.'
  static override description = [
    'Steps: build the Lambda zips, synthesize the CDKTF stack to Terraform JSON (build/cdktf/stacks/messaging),',
    'then with tofu or terraform (tofu preferred when both are on PATH): init, workspace select -or-create ENV,',
    'plan -out, confirm, apply the saved plan, and write the outputs (SQS_QUEUE_URL, SQS_DLQ_URL,',
    'TWILIO_MESSAGING_SERVICE_SID, WEBHOOK_BASE_URL) into .env without touching other keys.',
    '',
    'Variables come from TF_VAR_<name> or these settings (environment > .env): DATABASE_URL (postgres://),',
    'ENCRYPTION_KEY, BACKEND_STATUS_WEBHOOK_SECRET, BACKEND_STATUS_WEBHOOK_URL, TWILIO_MESSAGING_SERVICE_SID,',
    'LAMBDA_VPC_ID, LAMBDA_SUBNET_IDS, DATABASE_SECURITY_GROUP_ID, SES_IDENTITY_ARNS (lists comma-separated),',
    'optional ALARM_ACTIONS, AWS_REGION; TF_VAR_webhook_base_url for a custom domain. Secrets travel to',
    'Terraform in its environment only and are never written into the synthesized JSON.',
    'TF_STATE_BUCKET switches the state from local (.engage/terraform-state) to S3.',
  ].join('\n')

  static override examples = [
    '<%= config.bin %> deploy dev --synth-only',
    '<%= config.bin %> deploy dev --plan',
    '<%= config.bin %> deploy dev --yes',
    '<%= config.bin %> deploy dev --skip-build --yes --json',
  ]

  static override flags = {
    env: Flags.string({summary: 'Environment name, also the Terraform workspace.', default: 'dev'}),
    'synth-only': Flags.boolean({summary: 'Only synthesize the Terraform JSON (no bundles, no terraform needed).', exclusive: ['plan']}),
    plan: Flags.boolean({summary: 'Stop after the plan; apply nothing.'}),
    yes: Flags.boolean({char: 'y', summary: 'Apply without asking (for scripts).'}),
    'skip-build': Flags.boolean({summary: 'Use the zips already in build/lambda instead of building them; fails if one is missing.'}),
    binary: Flags.option({options: IAC_BINARIES, summary: 'Use this CLI instead of the first of tofu, terraform on PATH.'})(),
    'dotenv-file': Flags.string({summary: 'File the outputs are written to.', default: '.env'}),
  }

  public async run(): Promise<DeployDevResult> {
    const mode: DeployMode = this.flags['synth-only'] ? 'synth' : this.flags.plan ? 'plan' : 'apply'
    // Decide before doing anything whether a confirmation could be asked at all. Without
    // terraform or tofu there is nothing to confirm: the deploy synthesizes and says what to install.
    const binary = findIacBinary({pathVariable: process.env.PATH, prefer: this.flags.binary})
    if (mode === 'apply' && binary && !this.flags.yes && !canPrompt()) {
      throw new UsageError(`Applying to the ${this.flags.env} workspace needs confirmation, and there is no terminal to ask in.`, {
        code: 'CONFIRMATION_REQUIRED',
        suggestions: ['Pass --yes to apply non-interactively, or --plan to stop after the plan.'],
      })
    }
    const result = await deployDev(
      {
        env: this.flags.env,
        mode,
        baseDir: process.cwd(),
        skipBuild: this.flags['skip-build'],
        binary: this.flags.binary,
        dotenvPath: resolve(this.flags['dotenv-file']),
        settings: this.settings,
        environment: process.env,
      },
      {
        progress: (steps) => createStepProgress(steps, {interactive: this.interactive, logger: this.logger}),
        confirm: (question) => confirmAction({message: question, action: `Applying to the ${this.flags.env} workspace`, yes: this.flags.yes}),
        showPlan: (text) => {
          if (!this.jsonEnabled()) process.stderr.write(text.endsWith('\n') ? text : `${text}\n`)
        },
        notice: (message) => this.logger.warn(message),
      },
    )
    if (!this.jsonEnabled()) {
      for (const [name, value] of Object.entries(result.outputs)) this.log(`${name}=${value}`)
      if (mode === 'synth') this.log(result.tfJsonPath)
    }
    return result
  }
}
