/**
 * Limited-memory BFGS: the last few step / gradient-change pairs (s, y) define an inverse
 * Hessian estimate H, applied to a gradient by the two-loop recursion without forming H.
 *
 * PreciseInv's per-step problem is least squares through the denoiser, min mean(r(eps)^2). At
 * low noise the denoiser nearly removes some directions (fine texture it reads as noise), so
 * the problem is badly conditioned there and plain gradient descent needs hundreds of
 * iterations; curvature pairs cut that to tens at the cost of a few vector operations.
 */
import { dot } from '../batch.ts';

export class LbfgsMemory {
  private readonly s: Float32Array[] = [];
  private readonly y: Float32Array[] = [];
  private readonly rho: number[] = [];

  constructor(private readonly capacity: number) {
    LbfgsMemory.checkCapacity(capacity);
  }

  static checkCapacity(capacity: number): void {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`L-BFGS memory must be a positive integer, got ${capacity}`);
  }

  get size(): number {
    return this.s.length;
  }

  /**
   * Records a step s and the gradient change y it caused. Pairs without positive curvature
   * (s.y <= 0, possible on a non-convex loss) are skipped: keeping them would make H indefinite
   * and the direction possibly uphill. Returns whether the pair was kept.
   */
  push(s: Float32Array, y: Float32Array): boolean {
    const sy = dot(s, y);
    if (!(sy > 1e-10 * Math.sqrt(dot(s, s) * dot(y, y)))) return false;
    this.s.push(s);
    this.y.push(y);
    this.rho.push(1 / sy);
    if (this.s.length > this.capacity) {
      this.s.shift();
      this.y.shift();
      this.rho.shift();
    }
    return true;
  }

  clear(): void {
    this.s.length = 0;
    this.y.length = 0;
    this.rho.length = 0;
  }

  /**
   * H g, with H0 = gamma I: gamma = s.y / y.y of the newest pair (the usual scaling, which
   * makes the unit step a good first trial), or `initialScale` while the memory is empty.
   */
  apply(g: Float32Array, initialScale: number): Float32Array {
    const q = Float32Array.from(g);
    const m = this.s.length;
    const alphas = new Array<number>(m);
    for (let i = m - 1; i >= 0; i--) {
      const a = this.rho[i]! * dot(this.s[i]!, q);
      alphas[i] = a;
      const yi = this.y[i]!;
      for (let k = 0; k < q.length; k++) q[k] = q[k]! - a * yi[k]!;
    }
    const gamma = m > 0 ? dot(this.s[m - 1]!, this.y[m - 1]!) / dot(this.y[m - 1]!, this.y[m - 1]!) : initialScale;
    for (let k = 0; k < q.length; k++) q[k] = q[k]! * gamma;
    for (let i = 0; i < m; i++) {
      const beta = this.rho[i]! * dot(this.y[i]!, q);
      const c = alphas[i]! - beta;
      const si = this.s[i]!;
      for (let k = 0; k < q.length; k++) q[k] = q[k]! + c * si[k]!;
    }
    return q;
  }
}
