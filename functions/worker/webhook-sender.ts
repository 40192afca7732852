/**
 * Calls a job's webhook when it finishes: a JSON POST signed with HMAC-SHA256 over
 * "{timestamp}.{body}" in the PreciseInv-Signature header (t=..., v1=...), retried with
 * exponential backoff on network errors, 429 and 5xx, each attempt sent to the address its check approved.
 */
import { createHmac } from 'node:crypto';
import type { Job } from '../../shared/contracts/job.ts';
import { checkWebhookDestination, WebhookDestinationError, type WebhookDestinationPolicy } from '../../shared/platform/webhook-destination.ts';
import { postToCheckedAddress } from './pinned-post.ts';
import type { Logger } from '../../shared/platform/logger.ts';

export const SIGNATURE_HEADER = 'preciseinv-signature';

export interface WebhookOptions {
  secret: string;
  attempts: number;
  baseDelayMs: number;
  timeoutMs: number;
  /** Which hosts may be called; default: public addresses only. */
  destination?: WebhookDestinationPolicy;
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
    for (let attempt = 1; attempt <= this.options.attempts; attempt++) {
      const timestamp = Math.floor(Date.now() / 1000);
      let outcome: string;
      try {
        // Resolved and checked on every attempt (a host's addresses can change between them), and
        // the request goes to the address that was checked; a redirect is not followed.
        const destination = await checkWebhookDestination(job.webhook, this.options.destination ?? { allowLoopback: false });
        const status = await postToCheckedAddress(destination, {
          headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signWebhook(this.options.secret, timestamp, body) },
          body,
          timeoutMs: this.options.timeoutMs,
        });
        if (status >= 200 && status < 300) return true;
        outcome = `HTTP ${status}`;
        if (status < 500 && status !== 429) {
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
