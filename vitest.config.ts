import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['shared/**/*.test.ts', 'functions/**/*.test.ts', 'cdk/**/*.test.ts', 'infra-tests/**/*.test.ts', 'cli/**/*.test.ts', 'models/**/*.test.ts', 'console/**/*.test.ts'],
    // ORT sessions and CDK synthesis are CPU-heavy; two cores in CI.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Starts moto_server for the AWS adapter tests unless PRECISEINV_TEST_AWS_ENDPOINT names one.
    globalSetup: ['./shared/platform/testing/aws-emulator.global-setup.ts'],
  },
});
