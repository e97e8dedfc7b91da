import {UsageError} from '../errors/engage-error.js'

/** Where one Terraform variable of the stack gets its value when TF_VAR_<name> is not set. */
export interface VariableSource {
  variable: string
  /** Setting read (environment > .env) when TF_VAR_<variable> is unset; undefined: only TF_VAR_ works. */
  setting?: string
  kind: 'string' | 'list'
  secret: boolean
  required: boolean
}

/**
 * The stack's variables and the engage settings that feed them. TF_VAR_*
 * in the environment always wins (Terraform reads it itself). Lists are
 * comma-separated in settings. `webhook_base_url` has no setting on purpose:
 * the deploy writes the API endpoint back as WEBHOOK_BASE_URL, and feeding
 * that back in would pin a stale URL; set TF_VAR_webhook_base_url for a
 * custom domain.
 */
export const VARIABLE_SOURCES: readonly VariableSource[] = [
  {variable: 'database_url', setting: 'DATABASE_URL', kind: 'string', secret: true, required: true},
  {variable: 'encryption_key', setting: 'ENCRYPTION_KEY', kind: 'string', secret: true, required: true},
  {variable: 'backend_status_webhook_secret', setting: 'BACKEND_STATUS_WEBHOOK_SECRET', kind: 'string', secret: true, required: true},
  {variable: 'backend_status_webhook_url', setting: 'BACKEND_STATUS_WEBHOOK_URL', kind: 'string', secret: false, required: true},
  {variable: 'twilio_messaging_service_sid', setting: 'TWILIO_MESSAGING_SERVICE_SID', kind: 'string', secret: false, required: true},
  {variable: 'vpc_id', setting: 'LAMBDA_VPC_ID', kind: 'string', secret: false, required: true},
  {variable: 'subnet_ids', setting: 'LAMBDA_SUBNET_IDS', kind: 'list', secret: false, required: true},
  {variable: 'database_security_group_id', setting: 'DATABASE_SECURITY_GROUP_ID', kind: 'string', secret: false, required: true},
  {variable: 'ses_identity_arns', setting: 'SES_IDENTITY_ARNS', kind: 'list', secret: false, required: true},
  {variable: 'alarm_actions', setting: 'ALARM_ACTIONS', kind: 'list', secret: false, required: false},
  {variable: 'aws_region', setting: 'AWS_REGION', kind: 'string', secret: false, required: false},
  {variable: 'webhook_base_url', kind: 'string', secret: false, required: false},
]

export interface TerraformVariables {
  /** TF_VAR_* to add to terraform's environment (those already in the environment are left to it). */
  env: Record<string, string>
  /** Secret values, to mask in anything shown. */
  secrets: string[]
}

/**
 * Collects the stack's variable values for `plan`, failing before Terraform
 * runs — and naming every missing one, never a value — when a required
 * variable has neither TF_VAR_<name> nor its setting. A DATABASE_URL that is
 * not PostgreSQL (the local SQLite default) is refused: the Lambdas need the
 * shared PostgreSQL.
 */
export function terraformVariables(environment: NodeJS.ProcessEnv, settings: {get(name: string): string | undefined}): TerraformVariables {
  const result: TerraformVariables = {env: {}, secrets: []}
  const missing: string[] = []
  for (const source of VARIABLE_SOURCES) {
    const envName = `TF_VAR_${source.variable}`
    const direct = environment[envName]
    const fromSetting = source.setting ? settings.get(source.setting) : undefined
    const raw = direct !== undefined && direct !== '' ? direct : fromSetting
    if (raw === undefined || raw.trim() === '') {
      if (source.required) missing.push(source.setting ? `${source.setting} (or ${envName})` : envName)
      continue
    }
    if (source.secret) result.secrets.push(raw)
    if (direct !== undefined && direct !== '') continue
    if (source.variable === 'database_url' && !/^postgres(ql)?:\/\//.test(raw)) {
      throw new UsageError('DATABASE_URL is not a postgres:// URL; the Lambdas need the shared PostgreSQL.', {
        code: 'DEPLOY_DATABASE_URL_NOT_POSTGRES',
        suggestions: ['Set TF_VAR_database_url to the shared PostgreSQL URL (it overrides DATABASE_URL for the deploy only).'],
      })
    }
    result.env[envName] = source.kind === 'list' ? JSON.stringify(raw.split(',').map((item) => item.trim()).filter(Boolean)) : raw
  }
  if (missing.length > 0) {
    throw new UsageError(`Missing deploy settings: ${missing.join(', ')}.`, {
      code: 'DEPLOY_VARIABLES_MISSING',
      details: {missing},
      suggestions: ['Set them in the environment or in .env (lists comma-separated), then re-run. `--synth-only` needs none of them.'],
    })
  }
  return result
}
