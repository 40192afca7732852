/**
 * Whether a line-search trial runs the fused objective (loss and gradient in one gradient-graph
 * run) or a forward run (loss only), chosen from what this inversion has measured so far.
 *
 * Let a forward run cost 1 and a gradient-graph run R (both per image, timed here), and let p be
 * the chance that the trial is accepted. A trial that is rejected needs no gradient; an accepted
 * one needs its gradient before the next direction can be formed.
 * - Fused: R, accepted or not (the gradient of an accepted trial comes with it).
 * - Forward: 1, plus R for the gradient run at the point when it is accepted: 1 + p R.
 * Fused is cheaper exactly when R < 1 + p R, i.e. when p > (R - 1) / R. At R = 2.2 that is
 * p > 0.55: the unit step of L-BFGS, usually accepted, is tried fused; the halved steps of a
 * search that has already failed once, accepted less often, are tried with forward runs.
 *
 * p is the running acceptance rate, kept apart for a search's first trial and for its later ones
 * (halvings and restarts), whose rates differ, with one success and one failure as prior (p = 0.5
 * before anything is seen). R is the ratio of mean seconds per image of the two kinds of run;
 * until both have been timed it is taken as 2.5, about what the gradient graphs cost in
 * bench/results/vjp-overhead*.md. The choice changes only which runs are made, not the iterates:
 * both kinds of run compute the loss with the same nodes.
 */
const PRIOR_RATIO = 2.5;

export class TrialPolicy {
  private readonly seconds = { forward: 0, gradient: 0 };
  private readonly images = { forward: 0, gradient: 0 };
  private readonly outcomes = { first: { accepted: 0, trials: 0 }, later: { accepted: 0, trials: 0 } };

  /** @param clock milliseconds, monotonic (performance.now by default). */
  constructor(private readonly clock: () => number = () => performance.now()) {}

  /** Runs `run` (a model run over `images` images) and books its time under its kind. */
  async timed<T>(withGradient: boolean, images: number, run: () => Promise<T>): Promise<T> {
    const t0 = this.clock();
    const out = await run();
    const kind = withGradient ? 'gradient' : 'forward';
    this.seconds[kind] += (this.clock() - t0) / 1000;
    this.images[kind] += images;
    return out;
  }

  /** R: a gradient-graph run's cost in forward runs, per image. */
  costRatio(): number {
    if (this.images.forward === 0 || this.images.gradient === 0 || !(this.seconds.forward > 0)) return PRIOR_RATIO;
    return this.seconds.gradient / this.images.gradient / (this.seconds.forward / this.images.forward);
  }

  /** Estimated acceptance probability of a trial (`later`: not the search's first). */
  acceptance(later: boolean): number {
    const o = later ? this.outcomes.later : this.outcomes.first;
    return (o.accepted + 1) / (o.trials + 2);
  }

  record(later: boolean, accepted: boolean): void {
    const o = later ? this.outcomes.later : this.outcomes.first;
    o.trials++;
    if (accepted) o.accepted++;
  }

  /** Whether a batch of trials (one flag per image: a later trial?) should run fused. */
  fuse(later: readonly boolean[]): boolean {
    if (later.length === 0) return false;
    const R = this.costRatio();
    const p = later.reduce((acc, l) => acc + this.acceptance(l), 0) / later.length;
    return p > (R - 1) / R;
  }
}
