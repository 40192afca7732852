/**
 * The per-step chart: each completed timestep's residual on a log scale against the job's eta
 * (dashed line), one point per step. An SVG built from elements (the CSP allows no inline styles),
 * summarised in its label; the job's step table carries the same numbers for screen readers.
 */
import type { JobStep } from '../../shared/contracts/job-steps.ts';
import { svg } from './dom.ts';
import { logAxis, logPosition } from './log-scale.ts';

const W = 320;
const H = 180;
const PAD = { left: 44, right: 10, top: 10, bottom: 28 };

export const formatResidual = (value: number | null): string => (value === null ? 'not finite' : value.toExponential(1));

export function renderStepChart(chart: SVGSVGElement, steps: readonly JobStep[], eta: number, totalSteps: number): void {
  const axis = logAxis([eta, ...steps.map((s) => s.residual ?? Number.NaN)])!;
  const x = (step: number): number => PAD.left + ((step - 0.5) / totalSteps) * (W - PAD.left - PAD.right);
  const y = (value: number): number => H - PAD.bottom - logPosition(axis, value) * (H - PAD.top - PAD.bottom);
  const nodes: SVGElement[] = [];
  for (const tick of axis.ticks) {
    nodes.push(svg('line', { class: 'grid', x1: PAD.left, x2: W - PAD.right, y1: y(tick), y2: y(tick) }));
    nodes.push(svg('text', { class: 'tick', x: PAD.left - 4, y: y(tick) + 3, 'text-anchor': 'end' }, `1e${Math.round(Math.log10(tick))}`));
  }
  const labelEvery = Math.ceil(totalSteps / 10);
  for (let step = 1; step <= totalSteps; step += labelEvery) nodes.push(svg('text', { class: 'tick', x: x(step), y: H - PAD.bottom + 12, 'text-anchor': 'middle' }, String(step)));
  nodes.push(svg('text', { class: 'axis-label', x: (W + PAD.left) / 2, y: H - 4, 'text-anchor': 'middle' }, 'step (1 = least noisy)'));
  nodes.push(svg('line', { class: 'eta', x1: PAD.left, x2: W - PAD.right, y1: y(eta), y2: y(eta) }));
  nodes.push(svg('text', { class: 'eta-label', x: W - PAD.right, y: y(eta) - 3, 'text-anchor': 'end' }, `eta ${formatResidual(eta)}`));
  const points = steps.map((s) => [x(s.step), s.residual === null ? PAD.top : y(s.residual)] as const);
  if (points.length > 1) nodes.push(svg('polyline', { class: 'residual-line', points: points.map((p) => p.join(',')).join(' ') }));
  steps.forEach((s, i) => {
    const [cx, cy] = points[i]!;
    const title = `step ${s.step}: residual ${formatResidual(s.residual)}, ${s.iterations} iterations, ${s.forwardEvals + s.vjpEvals} model evaluations`;
    nodes.push(svg('circle', { class: s.residual !== null && s.residual <= eta ? 'point converged' : 'point', cx, cy, r: 3.5, 'data-step': s.step }, svg('title', {}, title)));
  });
  chart.replaceChildren(...nodes);
  const last = steps.at(-1);
  chart.setAttribute('aria-label', `Residual per step, log scale, against eta ${formatResidual(eta)}: ${steps.length} of ${totalSteps} steps${last ? `, last residual ${formatResidual(last.residual)}` : ''}`);
}

export function stepChart(): SVGSVGElement {
  return svg('svg', { class: 'step-chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'Residual per step: no steps yet' });
}
