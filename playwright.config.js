// Playwright runs against two real nodes (the built binary) that share one
// redis-server and one embedded MongoDB-wire store, started by e2e/run.sh.
import { defineConfig } from '@playwright/test';

const ports = [Number(process.env.E2E_PORT_A || 18181), Number(process.env.E2E_PORT_B || 18182)];
const node = (i) => ({
  command: './bin/multitab serve',
  url: `http://127.0.0.1:${ports[i]}/readyz`,
  reuseExistingServer: false,
  timeout: 60_000,
  stdout: 'ignore',
  stderr: 'pipe',
  env: {
    HTTP_ADDR: `127.0.0.1:${ports[i]}`,
    NODE_ID: `e2e-${'ab'[i]}`,
    REDIS_URL: process.env.E2E_REDIS_URL,
    MONGO_URI: process.env.E2E_MONGO_URI,
    MONGO_DB: 'e2e',
    DATA_DIR: process.env.E2E_DATA_DIR || '/tmp/multitab-e2e',
    FLUSH_INTERVAL: '1s',
    LOG_LEVEL: 'warn',
  },
});

export default defineConfig({
  testDir: './e2e',
  timeout: 60_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  outputDir: 'e2e/test-results',
  use: {
    baseURL: `http://127.0.0.1:${ports[0]}`,
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    },
  },
  webServer: [node(0), node(1)],
});
