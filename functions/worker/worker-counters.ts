/** Running totals a worker reports: jobs by outcome, inversion seconds and model evaluations. */
export interface WorkerCounters {
  jobsSucceeded: number;
  jobsFailed: number;
  jobsCanceled: number;
  /** Handed back to the queue on shutdown or after a retryable failure. */
  jobsReleased: number;
  /** Messages for jobs that were already finished or running elsewhere. */
  duplicateDeliveries: number;
  inversionSeconds: number;
  modelEvals: number;
}

export function newCounters(): WorkerCounters {
  return { jobsSucceeded: 0, jobsFailed: 0, jobsCanceled: 0, jobsReleased: 0, duplicateDeliveries: 0, inversionSeconds: 0, modelEvals: 0 };
}
