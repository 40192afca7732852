/**
 * ECS task scale-in protection while jobs run: the first job in flight protects the task through
 * the ECS agent ($ECS_AGENT_URI/task-protection/v1/state), heartbeats renew it before it lapses,
 * and the last job to settle removes it. Without ECS_AGENT_URI (local mode) it does nothing.
 * Failures are logged, never thrown: protection is best effort and must not stop a job.
 */
import type { Logger } from '../../shared/platform/logger.ts';

/** What the queue worker calls; TaskProtection implements it. */
export interface JobGuard {
  jobStarted(): void;
  jobSettled(): void;
  /** Called on every heartbeat while jobs run. */
  renew(): void;
}

export interface TaskProtectionOptions {
  /** $ECS_AGENT_URI; undefined turns every call into a no-op. */
  agentUri: string | undefined;
  logger: Logger;
  /** Protection lifetime per request (the agent accepts 1 to 2880); default 60. */
  expiresInMinutes?: number;
  requestTimeoutMs?: number;
  fetch?: typeof fetch;
  now?: () => number;
}

const MAX_EXPIRES_IN_MINUTES = 2880;

export class TaskProtection implements JobGuard {
  private inFlight = 0;
  /** When the protection we last set lapses (ms); undefined when the task is not protected. */
  private protectedUntil: number | undefined;
  private queue: Promise<void> = Promise.resolve();
  private readonly url: string | undefined;
  private readonly expiresInMinutes: number;
  private readonly fetch: typeof fetch;
  private readonly now: () => number;

  constructor(private readonly options: TaskProtectionOptions) {
    this.url = options.agentUri ? `${options.agentUri.replace(/\/+$/, '')}/task-protection/v1/state` : undefined;
    const minutes = Math.ceil(options.expiresInMinutes ?? 60);
    this.expiresInMinutes = Number.isFinite(minutes) ? Math.min(Math.max(minutes, 1), MAX_EXPIRES_IN_MINUTES) : 60;
    this.fetch = options.fetch ?? globalThis.fetch;
    this.now = options.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.url !== undefined;
  }

  get jobsInFlight(): number {
    return this.inFlight;
  }

  jobStarted(): void {
    if (++this.inFlight === 1) this.sync();
  }

  jobSettled(): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
    if (this.inFlight === 0) this.sync();
  }

  renew(): void {
    if (this.inFlight > 0) this.sync();
  }

  /** Resolves once every request asked for so far has finished. */
  idle(): Promise<void> {
    return this.queue;
  }

  /** Requests run one at a time and each reads the count when it runs, so they never land out of order. */
  private sync(): void {
    if (!this.url) return;
    this.queue = this.queue.then(() => this.reconcile());
  }

  private async reconcile(): Promise<void> {
    const now = this.now();
    if (this.inFlight > 0) {
      // Renew once more than half of the lifetime has passed, so a missed heartbeat still leaves margin.
      const halfLife = (this.expiresInMinutes * 60_000) / 2;
      if (this.protectedUntil !== undefined && this.protectedUntil - now > halfLife) return;
      if (await this.put({ ProtectionEnabled: true, ExpiresInMinutes: this.expiresInMinutes })) this.protectedUntil = now + this.expiresInMinutes * 60_000;
      return;
    }
    if (this.protectedUntil === undefined) return;
    if (this.protectedUntil <= now) return void (this.protectedUntil = undefined);
    if (await this.put({ ProtectionEnabled: false })) this.protectedUntil = undefined;
  }

  private async put(body: { ProtectionEnabled: boolean; ExpiresInMinutes?: number }): Promise<boolean> {
    const action = body.ProtectionEnabled ? 'enable' : 'disable';
    try {
      const response = await this.fetch(this.url!, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.requestTimeoutMs ?? 5000),
      });
      const text = await response.text();
      let parsed: { failure?: unknown } | undefined;
      try {
        parsed = text ? (JSON.parse(text) as { failure?: unknown }) : undefined;
      } catch {
        parsed = undefined;
      }
      if (!response.ok || parsed?.failure) {
        this.options.logger.error(`task scale-in protection: ${action} failed`, { status: response.status, failure: parsed?.failure ?? text.slice(0, 500) });
        return false;
      }
      this.options.logger.info(`task scale-in protection: ${action}d`, body.ProtectionEnabled ? { expiresInMinutes: body.ExpiresInMinutes } : {});
      return true;
    } catch (error) {
      this.options.logger.error(`task scale-in protection: ${action} failed`, { error: (error as Error).message });
      return false;
    }
  }
}
