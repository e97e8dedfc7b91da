#!/usr/bin/env -S node --import tsx
import {Config, execute} from '@oclif/core'

// Development mode runs the TypeScript sources through tsx. oclif would still load each command
// from the path oclif.manifest.json records (dist/commands, the last build) whenever that file
// exists; without those paths it finds the command's source under commands/ instead, so this
// always runs the code as it is now, built or not.
process.env.NODE_ENV = 'development'
const config = await Config.load(import.meta.url)
for (const command of Object.values(config.rootPlugin.manifest?.commands ?? {})) delete command.relativePath
await execute({development: true, loadOptions: config})
