/**
 * Anderson mixing for the fixed-point map F(x) = (y - b m(x)) / a of one inversion step.
 *
 * Plain fixed-point iteration x <- F(x) converges only where F contracts, and slowly where it
 * barely does. Anderson mixing keeps the last few iterates x_k and their updates g_k = F(x_k) - x_k
 * and takes the combination of them whose linearised update is smallest:
 *
 *     gamma = argmin || g_k - dG gamma ||,   x_{k+1} = x_k + g_k - (dX + dG) gamma
 *
 * with dX, dG the differences of consecutive iterates and updates. On a linear map this is GMRES
 * on r(x) = 0 (a Krylov method on the residual itself, where descent on |r|^2 works with the
 * squared condition number), and it costs one forward run per iteration: no gradient graph.
 * Differences are kept in float64, since the updates shrink to float32 rounding level as the
 * iteration converges.
 */

export class AndersonMixing {
  private readonly dx: Float64Array[] = [];
  private readonly dg: Float64Array[] = [];
  private last: { x: Float64Array; g: Float64Array } | null = null;

  constructor(private readonly capacity: number) {
    AndersonMixing.checkCapacity(capacity);
  }

  static checkCapacity(capacity: number): void {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`Anderson memory must be a positive integer, got ${capacity}`);
  }

  get size(): number {
    return this.dx.length;
  }

  clear(): void {
    this.dx.length = 0;
    this.dg.length = 0;
    this.last = null;
  }

  /** Records the iterate x and its update g = F(x) - x; returns the next iterate. */
  next(x: Float32Array, g: Float64Array): Float32Array {
    const n = x.length;
    const xd = Float64Array.from(x);
    if (this.last) {
      const dx = new Float64Array(n);
      const dg = new Float64Array(n);
      for (let k = 0; k < n; k++) {
        dx[k] = xd[k]! - this.last.x[k]!;
        dg[k] = g[k]! - this.last.g[k]!;
      }
      this.dx.push(dx);
      this.dg.push(dg);
      if (this.dx.length > this.capacity) {
        this.dx.shift();
        this.dg.shift();
      }
    }
    this.last = { x: xd, g };
    const gamma = leastSquares(this.dg, g);
    const out = new Float32Array(n);
    for (let k = 0; k < n; k++) {
      let v = xd[k]! + g[k]!;
      for (let i = 0; i < gamma.length; i++) v -= gamma[i]! * (this.dx[i]![k]! + this.dg[i]![k]!);
      out[k] = v;
    }
    return out;
  }
}

/**
 * gamma minimising || g - sum_i gamma_i columns_i ||, by the normal equations and a Cholesky
 * factorisation with a small relative ridge (the columns become nearly dependent as the
 * iteration converges; the ridge keeps gamma bounded rather than fitting rounding noise).
 */
export function leastSquares(columns: readonly Float64Array[], g: Float64Array): number[] {
  const m = columns.length;
  if (m === 0) return [];
  const A = Array.from({ length: m }, () => new Float64Array(m));
  const rhs = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    const ci = columns[i]!;
    let t = 0;
    for (let k = 0; k < g.length; k++) t += ci[k]! * g[k]!;
    rhs[i] = t;
    for (let l = 0; l <= i; l++) {
      const cl = columns[l]!;
      let u = 0;
      for (let k = 0; k < g.length; k++) u += ci[k]! * cl[k]!;
      A[i]![l] = u;
      A[l]![i] = u;
    }
  }
  let trace = 0;
  for (let i = 0; i < m; i++) trace += A[i]![i]!;
  const ridge = (1e-12 * trace) / m;
  if (!(ridge > 0)) return new Array<number>(m).fill(0);
  const L = A.map((row, i) => {
    const r = Float64Array.from(row);
    r[i]! += ridge;
    return r;
  });
  for (let j = 0; j < m; j++) {
    let d = L[j]![j]!;
    for (let k = 0; k < j; k++) d -= L[j]![k]! * L[j]![k]!;
    d = Math.sqrt(Math.max(d, ridge));
    L[j]![j] = d;
    for (let i = j + 1; i < m; i++) {
      let s = L[i]![j]!;
      for (let k = 0; k < j; k++) s -= L[i]![k]! * L[j]![k]!;
      L[i]![j] = s / d;
    }
  }
  const z = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    let s = rhs[i]!;
    for (let k = 0; k < i; k++) s -= L[i]![k]! * z[k]!;
    z[i] = s / L[i]![i]!;
  }
  const gamma = new Array<number>(m).fill(0);
  for (let i = m - 1; i >= 0; i--) {
    let s = z[i]!;
    for (let k = i + 1; k < m; k++) s -= L[k]![i]! * gamma[k]!;
    gamma[i] = s / L[i]![i]!;
  }
  return gamma;
}
