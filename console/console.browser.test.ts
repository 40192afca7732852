/**
 * The console in a real browser: Debian's headless Chromium (installed by .ci/run when missing),
 * driven by playwright-core, against the one-machine server `preciseinv serve` starts, with the
 * bundled tiny model inverting on CPU. Screenshots of the finished page go to test-results/console/.
 */
import { mkdir, mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../functions/local/local-server.ts';
import { freePort } from '../shared/testing/free-port.ts';
import { EngineRunner } from '../functions/worker/engine-runner.ts';
import { silentLogger } from '../shared/platform/logger.ts';
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

/** Enters the key (Enter submits) and sets small inversion parameters on the tiny model. */
async function connect(page: Page, key: string): Promise<void> {
  await page.getByRole('textbox', { name: 'API key' }).fill(key);
  await page.getByRole('textbox', { name: 'API key' }).press('Enter');
  await expect.poll(() => page.locator('#key-status').textContent()).toMatch(/^Connected/);
  await page.getByLabel('Model').selectOption('tiny');
  await page.getByLabel('Timesteps').fill(String(STEPS));
  await page.getByLabel('Residual threshold eta').fill('0.001');
  await page.getByLabel('Iterations per step, at most').fill('30');
}

beforeAll(async () => {
  await mkdir(SCREENSHOTS, { recursive: true });
  runner = new EngineRunner({ maxBatchSize: 1, logger: silentLogger() });
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

    await connect(page, key);
    await page.getByLabel(/^Images:/).setInputFiles(PHOTO);
    await page.getByRole('button', { name: 'Invert', exact: true }).click();
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

  it("inverts a dropped batch, shows the API's own message for its oversize image, and cancels that job", async () => {
    const photoBytes = (await stat(PHOTO)).size;
    const limit = photoBytes - 1000;
    const small = await sharp(PHOTO).resize(96, 64).png().toBuffer();
    const { url, key } = await server({ PRECISEINV_API_KEYS: 'pk_console_batch', PRECISEINV_MAX_UPLOAD_BYTES: String(limit) });
    const page = await browser.newPage({ viewport: { width: 900, height: 1400 } });
    await page.goto(url);
    await connect(page, key);
    // A drop with the two files, as a browser delivers one dragged from the desktop.
    const dropped = await page.evaluateHandle(
      (files) => {
        const transfer = new DataTransfer();
        for (const f of files) transfer.items.add(new File([Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0))], f.name, { type: 'image/png' }));
        return transfer;
      },
      [
        { name: 'chelsea-small.png', base64: small.toString('base64') },
        { name: 'chelsea.png', base64: (await readFile(PHOTO)).toString('base64') },
      ],
    );
    await page.dispatchEvent('#drop-zone', 'drop', { dataTransfer: dropped });
    expect(await page.locator('#selection').textContent()).toBe('2 images, inverted as one batch: chelsea-small.png, chelsea.png');
    await page.getByRole('button', { name: 'Invert', exact: true }).click();

    const jobs = page.locator('.job');
    await expect.poll(() => jobs.count()).toBe(2);
    const [accepted, refused] = [jobs.nth(0), jobs.nth(1)];
    expect(await accepted.locator('h3').textContent()).toBe('chelsea-small.png');
    expect(await accepted.getAttribute('data-job-id')).toMatch(/^b-[0-9a-f]{24}-0000$/);
    await expect.poll(() => refused.locator('.error').textContent()).toBe(`The upload was refused: Upload too large (413): the upload exceeds ${limit} bytes`);
    expect(await refused.locator('.status').getAttribute('data-status')).toBe('awaiting_upload');
    await page.screenshot({ path: join(SCREENSHOTS, 'upload-refused.png'), fullPage: true });

    await refused.getByRole('button', { name: 'Cancel the job for chelsea.png' }).click();
    await expect.poll(() => refused.locator('.status').getAttribute('data-status')).toBe('canceled');
    expect(await refused.getByRole('button', { name: 'Cancel the job for chelsea.png' }).isDisabled()).toBe(true);
    await expect.poll(() => accepted.locator('.status').getAttribute('data-status'), { timeout: 90_000, interval: 250 }).toSatisfy((status: string) => ['succeeded', 'failed'].includes(status));
    expect(await accepted.locator('.status').getAttribute('data-status')).toBe('succeeded');
    expect(await accepted.locator('.step-chart circle.point').count()).toBe(STEPS);
    await page.close();
  });
});
