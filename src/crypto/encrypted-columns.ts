import type {FieldContext} from './envelope.js'

/**
 * Every column that holds an ev1 envelope, and how to rebuild the associated
 * data its values are bound to. `keys check` and `keys rotate` walk this list,
 * so a new encrypted column is registered here or it is not rotated.
 */
export interface EncryptedColumn {
  table: string
  /** Primary key column, used to batch and resume. */
  idColumn: string
  column: string
  /** The associated data of one row's value. */
  context(row: {id: number; tenant_id: string; channel: string}): FieldContext
}

export const ENCRYPTED_COLUMNS: readonly EncryptedColumn[] = [
  {
    table: 'tenant_channel_settings',
    idColumn: 'id',
    column: 'credentials_encrypted',
    context: (row) => ({tenantId: row.tenant_id, channel: row.channel, field: 'credentials'}),
  },
  {
    table: 'tenant_channel_settings',
    idColumn: 'id',
    column: 'webhook_secret_encrypted',
    context: (row) => ({tenantId: row.tenant_id, channel: row.channel, field: 'webhook_secret'}),
  },
  {
    table: 'tenant_channel_credentials_archive',
    idColumn: 'id',
    column: 'credentials_encrypted',
    context: (row) => ({tenantId: row.tenant_id, channel: row.channel, field: `archive:${row.id}:credentials`}),
  },
  {
    table: 'tenant_channel_credentials_archive',
    idColumn: 'id',
    column: 'webhook_secret_encrypted',
    context: (row) => ({tenantId: row.tenant_id, channel: row.channel, field: `archive:${row.id}:webhook_secret`}),
  },
]
