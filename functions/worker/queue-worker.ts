/**
 * The queue consumer of one model's fleet. Each cycle long-polls for up to maxBatchSize
 * messages, claims their jobs with conditional writes (so a duplicate delivery never runs a job
 * twice), runs compatible jobs in one engine call with a visibility and lease heartbeat, and
 * settles each job: results written once, the message deleted, released, or left for the DLQ.
 */
import { randomUUID } from 'node:crypto';
import type { Job, JobError } from '../../shared/contracts/job.ts';
import { isTerminal } from '../../shared/contracts/job-status.ts';
import { jobMessageBody, parseQueueMessage } from '../../shared/contracts/queue-message.ts';
import type { JobQueue, ReceivedMessage } from '../../shared/platform/job-queue.ts';
import type { JobStore } from '../../shared/platform/job-store.ts';
import { UnreadableRecordError } from '../../shared/platform/json-record-store.ts';
import { mapConcurrent } from '../../shared/platform/map-concurrent.ts';
import type { ObjectStore, StoredObject } from '../../shared/platform/object-store.ts';
import { CheckpointStore } from './checkpoint-store.ts';
import type { Checkpoint, InversionResult, InversionRunner, InversionTask, StepCheckpoint } from './inversion-runner.ts';
import { abandon, claim, fail, release, renewLease, succeed } from './job-transitions.ts';
import type { RenderTaskResult } from './render-task.ts';
import { writeRenderResults, writeResults } from './result-writer.ts';
import type { JobGuard } from './task-protection.ts';
import type { WebhookSender } from './webhook-sender.ts';
import { newCounters, type WorkerCounters } from './worker-counters.ts';
import type { Logger } from '../../shared/platform/logger.ts';

export interface QueueWorkerDeps {
  objects: ObjectStore;
  jobs: JobStore;
  queue: JobQueue;
  runner: InversionRunner;
  logger: Logger;
  webhooks?: WebhookSender;
  /** The queue's dead-letter queue: jobs whose messages end there unsettled are failed with a reason. */
  deadLetter?: JobQueue;
  now?: () => Date;
  /** Called on every poll and heartbeat: a liveness signal for container health checks. */
  onAlive?: () => void;
  /** Told when a job is claimed and when it settles: on ECS, keeps scale-in off the task meanwhile. */
  taskProtection?: JobGuard;
  /** Calls onFire after ms unless the returned cancel runs first (default: a timer); tests fire it by hand. */
  startTimer?: (ms: number, onFire: () => void) => () => void;
}

export interface QueueWorkerOptions {
  workerId?: string;
  /** Message visibility and job lease, renewed by the heartbeat. */
  visibilityTimeoutSeconds: number;
  waitSeconds: number;
  heartbeatSeconds?: number;
  /** Least time between progress writes to the job record; checkpoints are written every step. */
  progressIntervalMs?: number;
  /** Delay before a job that failed transiently is retried, by receive count. */
  retryDelaySeconds?: (receiveCount: number) => number;
  /** Least time between dead-letter sweeps (default 60). */
  deadLetterSweepSeconds?: number;
  /**
   * Longest one attempt may run (the model's fleet.jobTimeoutSeconds): past it the job is failed
   * with code 'timeout' and its checkpoint kept, for a retry with other parameters.
   */
  jobTimeoutSeconds?: number;
}

type AbortReason = 'shutdown' | 'canceled' | 'lease_lost' | 'timeout';

interface Claimed {
  message: ReceivedMessage;
  job: Job;
  lastAttempt: boolean;
  controller: AbortController;
  /** Stops the job's timeout timer. */
  cancelTimeout: () => void;
}

const SQS_RECEIVE_LIMIT = 10;
const MAX_VISIBILITY_SECONDS = 43_200;

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));

export class QueueWorker {
  readonly workerId: string;
  readonly counters: WorkerCounters = newCounters();
  private readonly checkpoints: CheckpointStore;
  private readonly now: () => Date;
  private readonly startTimer: (ms: number, onFire: () => void) => () => void;
  private readonly stopping = new AbortController();
  private readonly active = new Set<Claimed>();
  private readonly webhookDeliveries = new Set<Promise<unknown>>();
  private loop: Promise<void> | undefined;
  private maxReceives: Promise<number | undefined> | undefined;

  constructor(
    private readonly deps: QueueWorkerDeps,
    private readonly options: QueueWorkerOptions,
  ) {
    this.workerId = options.workerId ?? `worker-${randomUUID()}`;
    this.checkpoints = new CheckpointStore(deps.objects);
    this.now = deps.now ?? (() => new Date());
    this.startTimer =
      deps.startTimer ??
      ((ms, onFire) => {
        const timer = setTimeout(onFire, ms);
        timer.unref();
        return () => clearTimeout(timer);
      });
  }

  /** Polls until stop(); errors in one cycle are logged and the loop goes on. */
  start(): Promise<void> {
    this.loop ??= (async () => {
      let lastSweep = Number.NEGATIVE_INFINITY;
      while (!this.stopping.signal.aborted) {
        try {
          if (this.deps.deadLetter && performance.now() - lastSweep >= (this.options.deadLetterSweepSeconds ?? 60) * 1000) {
            lastSweep = performance.now();
            await this.sweepDeadLetters();
          }
          await this.runOnce();
        } catch (error) {
          if (this.stopping.signal.aborted) break;
          this.deps.logger.error('worker cycle failed', { error: (error as Error).message });
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    })();
    return this.loop;
  }

  /**
   * Graceful stop (SIGTERM): running jobs stop at their next step boundary, keep their
   * checkpoint, go back to queued and their messages become visible at once.
   */
  async stop(): Promise<void> {
    this.stopping.abort();
    for (const claimed of this.active) claimed.controller.abort('shutdown' satisfies AbortReason);
    await this.loop;
    await Promise.all(this.webhookDeliveries);
  }

  /** One receive and everything it brought in; returns the number of messages received. */
  async runOnce(): Promise<number> {
    const { runner, queue } = this.deps;
    this.deps.onAlive?.();
    const messages = await queue.receive({
      maxMessages: Math.min(runner.maxBatchSize, SQS_RECEIVE_LIMIT),
      waitSeconds: this.options.waitSeconds,
      visibilityTimeoutSeconds: this.options.visibilityTimeoutSeconds,
      signal: this.stopping.signal,
    });
    // A failed lookup is not cached, so the next cycle asks again.
    this.maxReceives ??= queue.maxReceiveCount().catch((error: unknown) => {
      this.maxReceives = undefined;
      throw error;
    });
    const maxReceives = await this.maxReceives;
    const seenJobs = new Set<string>();
    // Admission runs concurrently; the heartbeat covers every claimed job from here until it settles.
    const heartbeat = setInterval(() => void this.heartbeat([...this.active]), (this.options.heartbeatSeconds ?? this.options.visibilityTimeoutSeconds / 3) * 1000);
    const claimed: Claimed[] = [];
    try {
      // One message's failed admission must not strand the jobs the others claimed; its own
      // message reappears when its visibility lapses.
      const admitted = await Promise.allSettled(messages.map((m) => this.admit(m, maxReceives, seenJobs)));
      admitted.forEach((outcome, i) => {
        if (outcome.status === 'fulfilled') {
          if (outcome.value) claimed.push(outcome.value);
        } else {
          this.deps.logger.error('admitting a message failed; it is redelivered when its visibility lapses', { messageId: messages[i]!.id, error: errorText(outcome.reason) });
        }
      });
      // Render and interpolation jobs run one at a time, on the same settle path.
      for (const c of claimed.filter((c) => c.job.render)) await this.runRender(c);
      const groups = new Map<string, Claimed[]>();
      for (const c of claimed.filter((c) => !c.job.render)) groups.set(runner.batchKey(c.job), [...(groups.get(runner.batchKey(c.job)) ?? []), c]);
      for (const group of groups.values()) await this.runGroup(group);
    } finally {
      // Nothing this cycle claimed may outlive it: a job left active would be heartbeaten and keep
      // the task protected forever. runGroup settles everything itself; this covers a bug there.
      const stranded = claimed.filter((c) => this.active.has(c));
      await Promise.all(stranded.map((c) => this.settle(c, { ok: false, retryable: true, error: { code: 'worker_error', message: 'the worker stopped handling the job before it settled' } })));
      clearInterval(heartbeat);
    }
    return messages.length;
  }

  /**
   * A worker that crashes on a job's last attempt never settles it, and SQS then moves the message
   * to the dead-letter queue instead of delivering it again: this fails such jobs with a reason.
   * Messages stay in the dead-letter queue (hidden briefly while read) for inspection and its alarm.
   */
  async sweepDeadLetters(): Promise<number> {
    const { deadLetter, jobs, logger } = this.deps;
    if (!deadLetter) return 0;
    let failed = 0;
    // Each receive hides what it returned, so repeated receives walk the whole queue once.
    for (let round = 0; round < 100 && !this.stopping.signal.aborted; round++) {
      const messages = await deadLetter.receive({ maxMessages: SQS_RECEIVE_LIMIT, waitSeconds: 0, visibilityTimeoutSeconds: 30 });
      if (messages.length === 0) break;
      for (const message of messages) {
        const parsed = parseQueueMessage(message.body);
        if (parsed.kind !== 'work') continue;
        for (const { jobId } of parsed.items) {
          const result = await jobs.update(jobId, (job) => abandon(job, this.now())).catch((error: unknown) => {
            if (!(error instanceof UnreadableRecordError)) throw error;
            logger.error('dead-lettered job has a record that cannot be read; left as is', { key: error.key, reason: error.reason });
            return undefined;
          });
          if (!result?.changed) continue;
          await this.checkpoints.clear(jobId);
          failed++;
          this.counters.jobsFailed++;
          logger.error('job failed: its message reached the dead-letter queue unsettled', { jobId, error: result.record.value.error });
          await this.notify(jobId);
        }
      }
    }
    return failed;
  }

  /** Decides what a message means for its job; returns the job if this worker now holds it. */
  private async admit(message: ReceivedMessage, maxReceives: number | undefined, seenJobs: Set<string>): Promise<Claimed | undefined> {
    const { queue, jobs, logger } = this.deps;
    const parsed = parseQueueMessage(message.body);
    if (parsed.kind === 'test-event') return void (await queue.delete(message.receiptHandle));
    if (parsed.kind === 'invalid') {
      logger.warn('unreadable message', { messageId: message.id, reason: parsed.reason, receiveCount: message.receiveCount });
      // With a dead-letter queue it goes there for inspection; without one it would loop forever.
      return void (await (maxReceives === undefined ? queue.delete(message.receiptHandle) : queue.changeVisibility(message.receiptHandle, 0)));
    }
    if (parsed.items.length !== 1) {
      // Rare multi-record events become one message per job, so each settles on its own.
      await queue.sendMany(parsed.items.map((item) => jobMessageBody(item.jobId)));
      return void (await queue.delete(message.receiptHandle));
    }
    const jobId = parsed.items[0]!.jobId;
    const log = logger.child({ jobId, messageId: message.id });
    // Checked and recorded before the first await, so concurrent admissions see each other.
    if (seenJobs.has(jobId)) {
      this.counters.duplicateDeliveries++;
      log.info('duplicate delivery in the same receive; dropped');
      return void (await queue.delete(message.receiptHandle));
    }
    seenJobs.add(jobId);
    let result: Awaited<ReturnType<JobStore['update']>>;
    try {
      result = await jobs.update(jobId, (job) => claim(job, this.workerId, this.now(), this.options.visibilityTimeoutSeconds));
    } catch (error) {
      if (!(error instanceof UnreadableRecordError)) throw error;
      // Nothing can run a job whose record cannot be read; its message goes where unreadable messages go.
      log.error('job record cannot be read; message set aside', { key: error.key, reason: error.reason });
      return void (await (maxReceives === undefined ? queue.delete(message.receiptHandle) : queue.changeVisibility(message.receiptHandle, 0)));
    }
    if (!result) {
      log.warn('message for a job that does not exist; dropped');
      return void (await queue.delete(message.receiptHandle));
    }
    const job = result.record.value;
    if (!result.changed) {
      this.counters.duplicateDeliveries++;
      if (isTerminal(job.status)) {
        log.info('job already finished; duplicate message dropped', { status: job.status });
        // A job canceled while queued may still hold the checkpoint of an earlier attempt.
        await this.checkpoints.clear(jobId);
        return void (await queue.delete(message.receiptHandle));
      }
      // Running elsewhere: keep this copy hidden until that lease would lapse, in case its worker dies.
      const remaining = Math.ceil((Date.parse(job.lease!.expiresAt) - this.now().getTime()) / 1000) + 1;
      log.info('job running on another worker; message hidden until its lease lapses', { holder: job.lease?.workerId });
      return void (await queue.changeVisibility(message.receiptHandle, Math.min(Math.max(remaining, 1), MAX_VISIBILITY_SECONDS)));
    }
    log.info('job claimed', { attempt: job.attempts, receiveCount: message.receiveCount });
    const controller = new AbortController();
    const timeoutSeconds = this.options.jobTimeoutSeconds;
    const cancelTimeout = timeoutSeconds ? this.startTimer(timeoutSeconds * 1000, () => controller.abort('timeout' satisfies AbortReason)) : () => undefined;
    const claimed: Claimed = { message, job, lastAttempt: maxReceives !== undefined && message.receiveCount >= maxReceives, controller, cancelTimeout };
    if (this.stopping.signal.aborted) claimed.controller.abort('shutdown' satisfies AbortReason);
    this.active.add(claimed);
    this.deps.taskProtection?.jobStarted();
    return claimed;
  }

  private async runGroup(group: Claimed[]): Promise<void> {
    const prepared = await mapConcurrent(group, group.length, async (claimed) => {
      if (claimed.controller.signal.aborted) return void (await this.settle(claimed, undefined, claimed.controller.signal.reason as AbortReason));
      const { job } = claimed;
      // A bucket fault here is transient: the job goes back to the queue (or fails on its last attempt) like any retryable failure.
      const storageFault = (what: string, error: unknown): InversionResult => ({
        ok: false,
        retryable: true,
        error: { code: 'storage_error', message: `reading ${what} failed: ${errorText(error)}` },
      });
      let image: StoredObject | undefined;
      try {
        image = await this.deps.objects.get(job.input.key);
      } catch (error) {
        return void (await this.settle(claimed, storageFault(`the input image '${job.input.key}'`, error)));
      }
      if (!image) {
        return void (await this.settle(claimed, { ok: false, retryable: false, error: { code: 'input_missing', message: `no image at '${job.input.key}'` } }));
      }
      let resume: Checkpoint | undefined;
      try {
        resume = await this.checkpoints.latest(job.id, job.params.steps);
      } catch (error) {
        return void (await this.settle(claimed, storageFault(`the checkpoint under 'checkpoints/${job.id}/'`, error)));
      }
      if (resume) this.deps.logger.info('resuming from checkpoint', { jobId: job.id, step: resume.step });
      const task: InversionTask = { job: claimed.job, image: image.body, ...(resume ? { resume } : {}), onStep: this.stepHandler(claimed), signal: claimed.controller.signal };
      return { claimed, task };
    });
    const ready = prepared.filter((r) => r !== undefined);
    if (ready.length === 0) return;

    const started = performance.now();
    let results: InversionResult[];
    try {
      results = await this.deps.runner.run(ready.map((r) => r.task));
      if (results.length !== ready.length) throw new Error(`the engine returned ${results.length} results for ${ready.length} tasks`);
    } catch (error) {
      results = ready.map(() => ({ ok: false, retryable: true, error: { code: 'engine_error', message: (error as Error).message } }));
    }
    this.counters.inversionSeconds += (performance.now() - started) / 1000;
    await mapConcurrent(ready, ready.length, ({ claimed }, i) =>
      this.settle(claimed, results[i], claimed.controller.signal.aborted ? (claimed.controller.signal.reason as AbortReason) : undefined),
    );
  }

  /** Reads a render job's source latents (and trajectory), renders, and settles it. */
  private async runRender(claimed: Claimed): Promise<void> {
    if (claimed.controller.signal.aborted) return this.settle(claimed, undefined, claimed.controller.signal.reason as AbortReason);
    const { job } = claimed;
    const work = job.render!;
    const render = this.deps.runner.render?.bind(this.deps.runner);
    if (!render) return this.settle(claimed, { ok: false, retryable: false, error: { code: 'unsupported', message: 'this worker runs inversions only' } });
    const sources = [];
    for (const source of work.kind === 'render' ? [work.source] : work.sources) {
      try {
        const latent = await this.deps.objects.get(source.latent);
        const trajectory = source.trajectory ? await this.deps.objects.get(source.trajectory) : undefined;
        if (!latent || (source.trajectory && !trajectory)) {
          return this.settle(claimed, { ok: false, retryable: false, error: { code: 'input_missing', message: `the results of job '${source.job}' are gone (no '${!latent ? source.latent : source.trajectory}')` } });
        }
        sources.push({ latent: latent.body, ...(trajectory ? { trajectory: trajectory.body } : {}) });
      } catch (error) {
        return this.settle(claimed, { ok: false, retryable: true, error: { code: 'storage_error', message: `reading the results of job '${source.job}' failed: ${errorText(error)}` } });
      }
    }
    let lastWrite = 0;
    const onProgress = (step: number, totalSteps: number) => {
      if (Date.now() - lastWrite < (this.options.progressIntervalMs ?? 1000) && step < totalSteps) return;
      lastWrite = Date.now();
      void this.renew(claimed, { step, totalSteps }).catch((error: unknown) => this.deps.logger.warn('recording progress failed', { jobId: job.id, error: errorText(error) }));
    };
    const started = performance.now();
    const result = await render({ job, sources, onProgress, signal: claimed.controller.signal });
    this.counters.inversionSeconds += (performance.now() - started) / 1000;
    await this.settle(claimed, result, claimed.controller.signal.aborted ? (claimed.controller.signal.reason as AbortReason) : undefined);
  }

  /** Persists each step's checkpoint, then records progress and renews the lease (throttled). */
  private stepHandler(claimed: Claimed): (step: StepCheckpoint) => Promise<void> {
    let lastWrite = 0;
    return async (step) => {
      await this.checkpoints.save(claimed.job.id, step);
      const interval = this.options.progressIntervalMs ?? 1000;
      if (Date.now() - lastWrite < interval && step.step < step.totalSteps) return;
      lastWrite = Date.now();
      await this.renew(claimed, { step: step.step, totalSteps: step.totalSteps });
    };
  }

  private async heartbeat(claimed: readonly Claimed[]): Promise<void> {
    this.deps.onAlive?.();
    this.deps.taskProtection?.renew();
    await Promise.all(
      claimed.map(async (c) => {
        if (c.controller.signal.aborted) return;
        try {
          await this.deps.queue.changeVisibility(c.message.receiptHandle, this.options.visibilityTimeoutSeconds);
          await this.renew(c);
        } catch (error) {
          this.deps.logger.warn('heartbeat failed', { jobId: c.job.id, error: (error as Error).message });
        }
      }),
    );
  }

  /** Renews the lease; a job canceled or taken over meanwhile aborts its task. */
  private async renew(claimed: Claimed, progress?: { step: number; totalSteps: number }): Promise<void> {
    const result = await this.deps.jobs.update(claimed.job.id, (job) => renewLease(job, this.workerId, this.now(), this.options.visibilityTimeoutSeconds, progress));
    if (result?.changed) return;
    const status = result?.record.value.status;
    claimed.controller.abort((status === 'canceled' ? 'canceled' : 'lease_lost') satisfies AbortReason);
  }

  /**
   * Settles a claimed job and never throws: when recording the outcome fails (results, record or
   * queue unreachable), the attempt counts as a transient failure, so the job is handed back, or
   * failed on its last attempt. Either way the job leaves the active set, which stops its heartbeat
   * and lifts the task's scale-in protection once nothing else runs.
   */
  private async settle(claimed: Claimed, result: InversionResult | RenderTaskResult | undefined, aborted?: AbortReason): Promise<void> {
    const log = this.deps.logger.child({ jobId: claimed.job.id, messageId: claimed.message.id });
    try {
      await this.settleClaimed(claimed, result, aborted);
    } catch (error) {
      log.warn('recording the outcome failed; settling the attempt as a transient failure', { error: errorText(error) });
      const fault: InversionResult = { ok: false, retryable: true, error: { code: 'storage_error', message: `recording the outcome of the attempt failed: ${errorText(error)}` } };
      try {
        await this.settleClaimed(claimed, fault);
      } catch (again) {
        // Nothing more to do here: the message reappears once its visibility lapses and the lease lets another worker claim it.
        log.error('could not settle the job; it is retried when its message reappears', { error: errorText(again) });
      }
    } finally {
      claimed.cancelTimeout();
      if (this.active.delete(claimed)) this.deps.taskProtection?.jobSettled();
    }
  }

  private async settleClaimed(claimed: Claimed, result: InversionResult | RenderTaskResult | undefined, aborted?: AbortReason): Promise<void> {
    const { jobs, queue, logger } = this.deps;
    const { job, message } = claimed;
    const log = logger.child({ jobId: job.id, messageId: message.id });
    const update = (change: (j: Job) => Job | undefined) => jobs.update(job.id, change);

    if (aborted === 'shutdown' && !result?.ok) {
      await update((j) => release(j, this.workerId));
      await queue.changeVisibility(message.receiptHandle, 0);
      this.counters.jobsReleased++;
      return log.info('released on shutdown; resumes from its checkpoint elsewhere');
    }
    if (aborted === 'canceled') {
      await this.checkpoints.clear(job.id);
      await queue.delete(message.receiptHandle);
      this.counters.jobsCanceled++;
      log.info('canceled while running');
      return this.notify(job.id);
    }
    if (aborted === 'timeout' && !result?.ok) {
      const seconds = this.options.jobTimeoutSeconds!;
      const error: JobError = { code: 'timeout', message: `the job did not finish within ${seconds} s, this model's job timeout; its checkpoint is kept: ask for fewer steps or iterations, or a larger eta` };
      const failed = await update((j) => fail(j, this.workerId, this.now(), error));
      if (await this.finishedMeanwhile(claimed, failed)) return;
      await queue.delete(message.receiptHandle);
      this.counters.jobsFailed++;
      log.error('job failed', { error });
      return this.notify(job.id);
    }
    if (aborted === 'lease_lost') {
      await queue.delete(message.receiptHandle);
      return log.warn('lease lost to another worker; its run continues there');
    }
    if (result?.ok) {
      const write = 'files' in result ? writeRenderResults(this.deps.objects, job, result.files) : writeResults(this.deps.objects, job, result.outputs, result.metrics);
      const outputs = await write.catch((error: unknown) => {
        throw new Error(`writing the results under 'results/${job.id}/' failed: ${errorText(error)}`);
      });
      // Renders have no inversion metrics; their cost is counted all the same.
      const metrics = 'files' in result ? null : result.metrics;
      const { seconds, modelEvals } = 'files' in result ? result : result.metrics;
      const done = await update((j) => succeed(j, this.workerId, this.now(), outputs, metrics));
      await this.checkpoints.clear(job.id);
      await queue.delete(message.receiptHandle);
      if (!done?.changed) return log.warn('finished, but the job changed meanwhile; its record was left as is', { status: done?.record.value.status });
      this.counters.jobsSucceeded++;
      this.counters.modelEvals += modelEvals;
      log.info('job succeeded', { seconds, modelEvals, counters: this.counters });
      return this.notify(job.id);
    }
    const error: JobError = result && !result.ok ? result.error : { code: 'engine_error', message: 'no result' };
    const retryable = result && !result.ok ? result.retryable : true;
    if (retryable && !claimed.lastAttempt) {
      const released = await update((j) => release(j, this.workerId, error));
      if (await this.finishedMeanwhile(claimed, released)) return;
      await queue.changeVisibility(message.receiptHandle, this.options.retryDelaySeconds?.(message.receiveCount) ?? Math.min(30 * 2 ** (message.receiveCount - 1), 900));
      this.counters.jobsReleased++;
      return log.warn('attempt failed; will retry', { error, receiveCount: message.receiveCount });
    }
    const finalError = retryable ? { code: 'max_attempts', message: `gave up after ${message.receiveCount} attempts; last error (${error.code}): ${error.message}` } : error;
    const failed = await update((j) => fail(j, this.workerId, this.now(), finalError));
    if (await this.finishedMeanwhile(claimed, failed)) return;
    await this.checkpoints.clear(job.id);
    // A retryable fault that outlived its attempts goes to the DLQ for inspection; a bad input has nothing more to show.
    if (retryable) await queue.changeVisibility(message.receiptHandle, 0);
    else await queue.delete(message.receiptHandle);
    this.counters.jobsFailed++;
    log.error('job failed', { error: finalError });
    return this.notify(job.id);
  }

  /**
   * A failed attempt whose job already finished (it succeeded and only the cleanup after failed, or
   * it was canceled meanwhile) must not be retried, failed or announced again: its message is
   * simply dropped.
   */
  private async finishedMeanwhile(claimed: Claimed, update: { changed: boolean; record: { value: Job } } | undefined): Promise<boolean> {
    if (update?.changed || (update && !isTerminal(update.record.value.status))) return false;
    await this.deps.queue.delete(claimed.message.receiptHandle);
    // Best effort: a leftover checkpoint of a finished job is untidy, a failure here must not retry it.
    await this.checkpoints.clear(claimed.job.id).catch((error: unknown) => this.deps.logger.warn('clearing the checkpoints of a finished job failed', { jobId: claimed.job.id, error: errorText(error) }));
    this.deps.logger.warn('attempt failed after its job finished; the job was left as is', { jobId: claimed.job.id, status: update?.record.value.status ?? 'deleted' });
    return true;
  }

  private async notify(jobId: string): Promise<void> {
    const webhooks = this.deps.webhooks;
    if (!webhooks) return;
    const job = (await this.deps.jobs.get(jobId))?.value;
    if (!job?.webhook) return;
    const delivery = webhooks.deliver(job).finally(() => this.webhookDeliveries.delete(delivery));
    this.webhookDeliveries.add(delivery);
  }
}
