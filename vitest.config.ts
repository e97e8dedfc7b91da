import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    reporters: ['default', './test/support/summary-reporter.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // CLI tests spawn bin/run.js, which runs the compiled dist/.
    globalSetup: ['test/support/global-setup.ts'],
  },
})
