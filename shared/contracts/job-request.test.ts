import { describe, expect, it } from 'vitest';
import { JobRequest, resolveParams } from './job-request.ts';

const defaults = { method: 'preciseinv', steps: 50, eta: 1e-4, maxIters: 20, guidance: 1 } as const;

describe('JobRequest', () => {
  it('fills what the client left out from the model defaults', () => {
    const request = JobRequest.parse({ model: 'tiny', steps: 10 });
    expect(request.contentType).toBe('image/png');
    // eta follows the step count: (50 / 10)^2 times the default's, the same budget over fewer steps.
    expect(resolveParams(defaults, request)).toEqual({ ...defaults, steps: 10, eta: 2.5e-3, prompt: '', outputs: ['latent', 'reconstruction', 'metrics'] });
    expect(resolveParams(defaults, JobRequest.parse({ model: 'tiny' })).eta).toBe(1e-4);
    expect(resolveParams(defaults, JobRequest.parse({ model: 'tiny', steps: 10, eta: 3e-6 })).eta).toBe(3e-6);
  });

  it('names the out-of-range and unknown fields', () => {
    const result = JobRequest.safeParse({ model: 'tiny', steps: 0, eta: -1, colour: 'red', outputs: ['latent', 'latent'] });
    expect(result.success).toBe(false);
    const paths = result.error!.issues.map((i) => i.path.join('.') || i.code);
    expect(paths).toEqual(expect.arrayContaining(['steps', 'eta', 'outputs', 'unrecognized_keys']));
  });

  it('accepts only http(s) webhooks', () => {
    expect(JobRequest.safeParse({ model: 'tiny', webhook: 'file:///etc/passwd' }).success).toBe(false);
    expect(JobRequest.safeParse({ model: 'tiny', webhook: 'https://example.com/hook' }).success).toBe(true);
  });
});
