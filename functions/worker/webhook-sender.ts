/**
 * Calls a job's webhook when it finishes: a JSON POST signed with HMAC-SHA256 over
 * "{timestamp}.{body}" in the PreciseInv-Signature header (t=..., v1=...), retried with
 * exponential backoff on network errors, 429 and 5xx.
 */
import { createHmac } from 'node:crypto';
import type { Job } from '../../shared/contracts/job.ts';
import { checkWebhookDestination, WebhookDestinationError, type WebhookDestinationPolicy } from './webhook-destination.ts';
import type { Logger } from './worker-logger.ts';

export const SIGNATURE_HEADER = 'preciseinv-signature';

export interface WebhookOptions {
  secret: string;
  attempts: number;
  baseDelayMs: number;
  timeoutMs: number;
  /** Which hosts may be called; default: public addresses only. */
  destination?: WebhookDestinationPolicy;
  fetch?: typeof fetch;
}

export function signWebhook(secret: string, timestamp: number, body: string): string {
  return `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export function webhookPayload(job: Job): string {
  const { id, model, batchId, status, error, metrics, outputs, timings } = job;
  return JSON.stringify({ type: `job.${status}`, job: { id, model, batchId, status, error, metrics, outputs, timings } });
}

export class WebhookSender {
  constructor(
    private readonly options: WebhookOptions,
    private readonly logger: Logger,
  ) {}

  /** Resolves true once delivered, false after the last attempt; never throws. */
  async deliver(job: Job): Promise<boolean> {
    if (!job.webhook) return true;
    const body = webhookPayload(job);
    const send = this.options.fetch ?? fetch;
    for (let attempt = 1; attempt <= this.options.attempts; attempt++) {
      const timestamp = Math.floor(Date.now() / 1000);
      let outcome: string;
      try {
        // Checked on every attempt: a host's addresses can change between them.
        await checkWebhookDestination(job.webhook, this.options.destination ?? { allowLoopback: false });
        const response = await send(job.webhook, {
          method: 'POST',
          headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signWebhook(this.options.secret, timestamp, body) },
          body,
          // A redirect could point anywhere, past the destination check.
          redirect: 'manual',
          signal: AbortSignal.timeout(this.options.timeoutMs),
        });
        if (response.ok) return true;
        outcome = `HTTP ${response.status}`;
        if (response.status < 500 && response.status !== 429) {
          this.logger.warn('webhook refused; not retrying', { jobId: job.id, outcome });
          return false;
        }
      } catch (error) {
        if (error instanceof WebhookDestinationError) {
          this.logger.warn('webhook destination refused; not calling it', { jobId: job.id, reason: error.message });
          return false;
        }
        outcome = (error as Error).message;
      }
      this.logger.warn('webhook attempt failed', { jobId: job.id, attempt, outcome });
      if (attempt < this.options.attempts) await new Promise((r) => setTimeout(r, this.options.baseDelayMs * 2 ** (attempt - 1)));
    }
    return false;
  }
}
