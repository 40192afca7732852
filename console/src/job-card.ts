/**
 * One job on the page: upload, then status and the per-step chart and table while it runs, and
 * once it has succeeded the metrics, the comparison and the download links. Cancel at any time.
 */
import { z } from 'zod';
import type { JobSteps, JobStep } from '../../shared/contracts/job-steps.ts';
import { isTerminal, type JobStatus } from '../../shared/contracts/job-status.ts';
import { OUTPUT_FILES, OutputName } from '../../shared/contracts/job-request.ts';
import type { JobView } from '../../shared/contracts/job-view.ts';
import { InversionMetrics } from '../../shared/inversion/outputs/inversion-metrics.ts';
import { ApiError, uploadImage, type ApiClient } from './api-client.ts';
import { comparison } from './comparison.ts';
import { el } from './dom.ts';
import { PollBackoff } from './poll-backoff.ts';
import { formatResidual, renderStepChart, stepChart } from './step-chart.ts';

const STATUS_WORDS: Record<JobStatus, string> = {
  awaiting_upload: 'awaiting upload',
  queued: 'queued',
  running: 'running',
  succeeded: 'succeeded',
  failed: 'failed',
  canceled: 'canceled',
};

const Ceiling = InversionMetrics.pick({ ceilingPsnr: true, ceilingSsim: true, vaeIdentity: true });
const db = (value: number | null): string => (value === null ? '∞ dB (identical)' : `${value.toFixed(2)} dB`);
const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

export class JobCard {
  readonly element: HTMLLIElement;
  private readonly status = el('p', { class: 'status', 'aria-live': 'polite' });
  private readonly progress: HTMLProgressElement;
  private readonly error = el('p', { class: 'error', role: 'alert', hidden: true });
  private readonly notice = el('p', { class: 'notice', hidden: true });
  private readonly cancelButton: HTMLButtonElement;
  private readonly chart = stepChart();
  private readonly stepRows = el('tbody');
  private readonly results = el('div', { class: 'results', hidden: true });
  private steps: JobStep[] = [];
  private wake: (() => void) | undefined;

  constructor(
    private readonly api: ApiClient,
    private job: JobView,
    private readonly file: File,
  ) {
    const name = file.name;
    this.progress = el('progress', { max: job.params.steps, value: 0, 'aria-label': `Steps completed for ${name}` });
    this.cancelButton = el('button', { type: 'button', class: 'cancel', 'aria-label': `Cancel the job for ${name}` }, 'Cancel');
    this.cancelButton.addEventListener('click', () => void this.cancel());
    const tableTitle = el('h4', {}, 'Iterations and model evaluations per step');
    // The table scrolls sideways on narrow screens; focusable so the keyboard can scroll it too.
    const table = el(
      'div',
      { class: 'table-scroll', tabindex: 0, role: 'region', 'aria-label': `Per-step table for ${name}` },
      el(
        'table',
        { class: 'steps', 'aria-label': 'Iterations and model evaluations per step' },
        el('thead', {}, el('tr', {}, ...['Step', 'Timestep', 'Residual', 'Iterations', 'Model evaluations', 'Below eta'].map((h) => el('th', { scope: 'col' }, h)))),
        this.stepRows,
      ),
    );
    this.element = el(
      'li',
      { class: 'job', 'data-job-id': job.id },
      el('article', { 'aria-label': `Job for ${name}` },
        el('header', {}, el('h3', {}, name), el('p', { class: 'job-id' }, `${job.model} · ${job.params.method} · ${job.params.steps} steps · job ${job.id}`)),
        el('div', { class: 'status-row' }, this.status, this.progress, this.cancelButton),
        this.error,
        this.notice,
        el('figure', { class: 'chart' }, this.chart, el('figcaption', {}, 'Residual per step (log scale); dashed: eta')),
        tableTitle,
        table,
        this.results,
      ),
    );
    this.showStatus(job.status, job.progress?.step ?? 0);
    renderStepChart(this.chart, [], job.params.eta, job.params.steps);
  }

  /** Uploads the image, then follows the job until it finishes. */
  async start(): Promise<void> {
    if (!this.job.upload) return this.fail(`job ${this.job.id} came back without an upload form`);
    this.status.textContent = `Uploading ${this.file.name} (${Math.ceil(this.file.size / 1024)} KiB)…`;
    try {
      await uploadImage(this.job.upload, this.file);
    } catch (error) {
      this.showStatus('awaiting_upload', 0);
      return this.fail(`The upload was refused: ${message(error)}`);
    }
    await this.watch();
  }

  private async watch(): Promise<void> {
    const backoff = new PollBackoff();
    let seen = '';
    for (;;) {
      let waitMs: number;
      try {
        const latest = await this.api.steps(this.job.id);
        this.showSteps(latest);
        if (isTerminal(latest.status)) return await this.finish();
        const now = `${latest.status}:${latest.steps.length}`;
        waitMs = backoff.next(now !== seen);
        seen = now;
        this.notice.hidden = true;
      } catch (error) {
        // Refusals (unknown job, revoked key) end the watch; throttling, 5xx and network faults are retried.
        if (error instanceof ApiError && !error.transient) return this.fail(error.message);
        waitMs = backoff.next(false);
        this.notice.textContent = `Could not read the job (${message(error)}); trying again in ${Math.round(waitMs / 1000)} s.`;
        this.notice.hidden = false;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        this.wake = () => (clearTimeout(timer), resolve());
      });
      this.wake = undefined;
    }
  }

  private async cancel(): Promise<void> {
    this.cancelButton.disabled = true;
    try {
      this.job = await this.api.cancel(this.job.id);
      this.showStatus(this.job.status, this.job.progress?.step ?? 0);
      this.wake?.();
    } catch (error) {
      this.fail(`Cancel failed: ${message(error)}`);
      this.cancelButton.disabled = isTerminal(this.job.status);
    }
  }

  private showStatus(status: JobStatus, step: number): void {
    const total = this.job.params.steps;
    this.status.textContent = `Status: ${STATUS_WORDS[status]}${status === 'running' || step > 0 ? `, step ${step} of ${total}` : ''}`;
    this.status.dataset.status = status;
    this.progress.value = step;
    this.cancelButton.disabled = isTerminal(status);
  }

  private showSteps(latest: JobSteps): void {
    // A job that just finished may briefly show none (checkpoints cleared, metrics not yet read): keep what was shown.
    if (latest.steps.length >= this.steps.length) this.steps = latest.steps;
    this.showStatus(latest.status, Math.max(latest.progress?.step ?? 0, this.steps.length));
    renderStepChart(this.chart, this.steps, latest.eta, this.job.params.steps);
    this.stepRows.replaceChildren(
      ...this.steps.map((s) =>
        el('tr', {}, ...[String(s.step), String(s.timestep), formatResidual(s.residual), String(s.iterations), String(s.forwardEvals + s.vjpEvals), s.residual !== null && s.residual <= latest.eta ? 'yes' : 'no'].map((v) => el('td', {}, v))),
      ),
    );
  }

  private async finish(): Promise<void> {
    try {
      this.job = await this.api.job(this.job.id);
    } catch (error) {
      return this.fail(message(error));
    }
    this.showStatus(this.job.status, this.job.progress?.step ?? this.steps.length);
    if (this.job.status === 'failed') return this.fail(`The job failed: ${this.job.error?.message ?? 'no reason recorded'}${this.job.error ? ` (${this.job.error.code})` : ''}`);
    if (this.job.status !== 'succeeded') return;
    const { outputs, metrics } = this.job;
    const rows: [string, string][] = [];
    if (metrics) rows.push(['PSNR', db(metrics.psnr)], ['SSIM', metrics.ssim.toFixed(4)]);
    rows.push(['Ceiling', await this.ceiling()]);
    if (metrics) rows.push(['Latent RMSE', metrics.latentRmse.toExponential(2)], ['Iterations', String(metrics.iterations)], ['Model evaluations', String(metrics.modelEvals)], ['Seconds', metrics.seconds.toFixed(1)]);
    const list = el('dl', { class: 'metrics' }, ...rows.flatMap(([term, value]) => [el('dt', {}, term), el('dd', {}, value)]));
    const downloads = el(
      'ul',
      { class: 'downloads', 'aria-label': `Downloads for ${this.file.name}` },
      ...OutputName.options.flatMap((name) => {
        const link = outputs[name];
        return link ? [el('li', {}, el('a', { href: link.url, download: OUTPUT_FILES[name], 'data-output': name }, `${name}: ${OUTPUT_FILES[name]}`))] : [];
      }),
    );
    const parts: HTMLElement[] = [el('h4', {}, 'Result'), list];
    if (outputs.reconstruction) parts.push(comparison(this.file.name, URL.createObjectURL(this.file), outputs.reconstruction.url));
    parts.push(el('h4', {}, 'Downloads'), downloads);
    this.results.replaceChildren(...parts);
    this.results.hidden = false;
  }

  /** decode(encode(image)) vs image, from metrics.json: the best any latent inversion can reach. */
  private async ceiling(): Promise<string> {
    const link = this.job.outputs.metrics;
    if (!link) return 'not requested (no metrics output)';
    try {
      const response = await fetch(link.url, { cache: 'no-store' });
      if (!response.ok) return `unavailable (HTTP ${response.status})`;
      const ceiling = Ceiling.parse(await response.json());
      return `${db(ceiling.ceilingPsnr)}, SSIM ${ceiling.ceilingSsim.toFixed(4)}${ceiling.vaeIdentity ? ' (pixel-space model: exact)' : ''}`;
    } catch (error) {
      return `unavailable (${error instanceof z.ZodError ? 'metrics.json has no ceiling' : message(error)})`;
    }
  }

  private fail(text: string): void {
    this.error.textContent = text;
    this.error.hidden = false;
  }
}
