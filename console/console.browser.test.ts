/**
 * The console in a real browser: Debian's headless Chromium (installed by .ci/run when missing),
 * driven by playwright-core, against the one-machine server `preciseinv serve` starts, with the
 * bundled tiny model inverting on CPU. Screenshots of the finished page go to test-results/console/.
 */
import { mkdir, mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../functions/api/server.ts';
import { freePort } from '../functions/api/testing/free-port.ts';
import { EngineRunner } from '../functions/worker/engine-runner.ts';
import { jsonLogger } from '../functions/worker/worker-logger.ts';
import { parseSafetensors } from '../shared/formats/safetensors.ts';

const CHROMIUM = process.env.PRECISEINV_CHROMIUM ?? '/usr/bin/chromium';
const PHOTO = join(import.meta.dirname, '..', 'models', 'tiny', 'holdout', 'chelsea.png');
const SCREENSHOTS = join(import.meta.dirname, '..', 'test-results', 'console');
// Small enough for two CI cores: 4 timesteps, at most 30 iterations each.
const STEPS = 4;

let browser: Browser;
let runner: EngineRunner;
const servers: RunningServer[] = [];

async function server(env: Record<string, string>): Promise<{ url: string; key: string }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'preciseinv-console-'));
  const running = await startServer({ port: await freePort(), dataDir, env, runner });
  servers.push(running);
  const key = env.PRECISEINV_API_KEYS ?? (await readFile(join(dataDir, 'dev-api-key'), 'utf8')).trim();
  return { url: running.url, key };
}

/** Opens the console, enters the key and chooses the photograph with small inversion parameters. */
async function submitPhoto(page: Page, key: string): Promise<void> {
  await page.getByRole('textbox', { name: 'API key' }).fill(key);
  await page.getByRole('textbox', { name: 'API key' }).press('Enter');
  await expect.poll(() => page.locator('#key-status').textContent()).toMatch(/^Connected/);
  await page.getByLabel('Model').selectOption('tiny');
  await page.getByLabel('Timesteps').fill(String(STEPS));
  await page.getByLabel('Residual threshold eta').fill('0.001');
  await page.getByLabel('Iterations per step, at most').fill('30');
  await page.getByLabel(/^Images:/).setInputFiles(PHOTO);
  await page.getByRole('button', { name: 'Invert', exact: true }).click();
}

beforeAll(async () => {
  await mkdir(SCREENSHOTS, { recursive: true });
  runner = new EngineRunner({ maxBatchSize: 1, logger: jsonLogger({}, () => {}) });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});

afterAll(async () => {
  await browser?.close();
  for (const s of servers) await s.stop();
  await runner?.close();
});

describe('the web console in Chromium', () => {
  it('inverts a held-out photograph: chart point per step, both images compared, latent downloadable', async () => {
    const { url, key } = await server({});
    const page = await browser.newPage({ viewport: { width: 1100, height: 1400 } });
    const consoleErrors: string[] = [];
    page.on('console', (message) => void (message.type() === 'error' && consoleErrors.push(message.text())));
    page.on('pageerror', (error) => consoleErrors.push(error.message));

    const response = await page.goto(url);
    expect(response?.headers()['content-security-policy']).toContain("script-src 'self'");
    expect(await page.$$eval('script', (scripts) => scripts.filter((s) => !s.src || s.textContent?.trim()).length)).toBe(0);

    await submitPhoto(page, key);
    const job = page.locator('.job').first();
    const finished = ['succeeded', 'failed', 'canceled'];
    await expect.poll(() => job.locator('.status').getAttribute('data-status'), { timeout: 90_000, interval: 250 }).toSatisfy((status: string) => finished.includes(status));
    expect([await job.locator('.status').getAttribute('data-status'), await job.locator('.error').textContent()]).toEqual(['succeeded', '']);
    await expect.poll(() => job.locator('.comparison .side-by-side img').evaluateAll((imgs) => imgs.map((i) => (i as HTMLImageElement).complete && (i as HTMLImageElement).naturalWidth > 0))).toEqual([true, true]);

    expect(await job.locator('.step-chart circle.point').count()).toBe(STEPS);
    expect(await job.locator('.step-chart circle.point').evaluateAll((points) => points.map((p) => p.getAttribute('data-step')))).toEqual(['1', '2', '3', '4']);
    expect(await job.locator('table.steps tbody tr').count()).toBe(STEPS);
    expect(await job.locator('.comparison .side-by-side img').evaluateAll((imgs) => imgs.map((i) => i.getAttribute('alt')))).toEqual(['Original: chelsea.png', 'Reconstruction of chelsea.png from its latent']);
    const metrics = await job.locator('.metrics').textContent();
    expect(metrics).toMatch(/PSNR\d+\.\d+ dB/);
    expect(metrics).toMatch(/SSIM0\.\d{4}/);
    expect(metrics).toMatch(/Ceiling(\d+\.\d+ dB|∞ dB)/);

    // The wipe slider is a native range input: keyboard operable.
    const slider = job.getByRole('slider');
    await slider.focus();
    await page.keyboard.press('ArrowRight');
    expect(await slider.inputValue()).toBe('51');

    const [download] = await Promise.all([page.waitForEvent('download'), job.locator('a[data-output="latent"]').click()]);
    expect(download.suggestedFilename()).toBe('latent.safetensors');
    const latent = parseSafetensors(new Uint8Array(await readFile((await download.path())!)), 'downloaded latent');
    expect(latent.tensors.size).toBeGreaterThan(0);
    expect(await job.locator('.downloads a').evaluateAll((links) => links.map((a) => a.getAttribute('data-output')))).toEqual(['latent', 'trajectory', 'reconstruction', 'metrics']);

    await page.screenshot({ path: join(SCREENSHOTS, 'finished.png'), fullPage: true });
    await page.setViewportSize({ width: 720, height: 1400 });
    await job.screenshot({ path: join(SCREENSHOTS, 'job.jpeg'), type: 'jpeg', quality: 70 });
    await page.setViewportSize({ width: 360, height: 800 });
    // Readable at 360 px: nothing wider than the viewport.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    await page.screenshot({ path: join(SCREENSHOTS, 'finished-360px.png'), fullPage: true });
    expect((await stat(join(SCREENSHOTS, 'finished.png'))).size).toBeGreaterThan(0);
    expect(consoleErrors).toEqual([]);
    await page.close();
  });

  it("shows the API's own message when it refuses an oversize upload", async () => {
    const photoBytes = (await stat(PHOTO)).size;
    const limit = photoBytes - 1000;
    const { url, key } = await server({ PRECISEINV_API_KEYS: 'pk_console_oversize', PRECISEINV_MAX_UPLOAD_BYTES: String(limit) });
    const page = await browser.newPage();
    await page.goto(url);
    await submitPhoto(page, key);
    const error = page.locator('.job .error');
    await expect.poll(() => error.textContent()).toBe(`The upload was refused: Content too large (413): the upload exceeds ${limit} bytes`);
    expect(await page.locator('.job .status').getAttribute('data-status')).toBe('awaiting_upload');
    await page.screenshot({ path: join(SCREENSHOTS, 'upload-refused.png'), fullPage: true });
    await page.close();
  });
});
