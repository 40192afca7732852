/** What an inversion reports per timestep and in total. */
export interface StepRecord {
  /** 1-based inversion step (1 = least noisy). */
  step: number;
  timestep: number;
  iterations: number;
  /** Mean squared residual of the denoising step at the final iterate. */
  residual: number;
  converged: boolean;
  forwardEvals: number;
  vjpEvals: number;
}

export interface InversionResult {
  /** x_T per image. */
  latents: Float32Array[];
  /** x_1..x_T per image (index 0 = x_1). */
  trajectories: Float32Array[][];
  steps: StepRecord[][];
}

export interface InversionProgress {
  step: number;
  of: number;
}
