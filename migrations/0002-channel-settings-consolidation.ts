/**
 * 0002: consolidates tenant_channel_credentials_v2 into tenant_channel_settings
 * (ev1-encrypted credentials and webhook secret), archives every legacy row in
 * tenant_channel_credentials_archive, and drops the legacy table. `down`
 * restores both legacy tables byte for byte. The logic lives in
 * src/channel-settings/consolidation/.
 */
import {consolidateChannelSettings} from '../src/channel-settings/consolidation/consolidate.js'
import {reverseConsolidation} from '../src/channel-settings/consolidation/reverse.js'
import type {MigrationContext, MigrationReport} from '../src/migrate/types.js'

export async function up(context: MigrationContext): Promise<MigrationReport> {
  return consolidateChannelSettings(context)
}

export async function down(context: MigrationContext): Promise<MigrationReport> {
  return reverseConsolidation(context)
}
