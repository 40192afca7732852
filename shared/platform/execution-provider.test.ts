import { describe, expect, it } from 'vitest';
import { chooseExecutionProviders, type ExecutionProviderProbes } from './execution-provider.ts';

function probes(overrides: Partial<ExecutionProviderProbes> = {}): ExecutionProviderProbes {
  return {
    env: {},
    listDevices: () => ['null', 'nvidiactl', 'nvidia0', 'nvidia-uvm'],
    cudaProviderInstalled: () => true,
    ...overrides,
  };
}

describe('chooseExecutionProviders', () => {
  it('prefers CUDA with a CPU fallback when a GPU device and the CUDA provider are present', () => {
    expect(chooseExecutionProviders(probes())).toEqual({ providers: ['cuda', 'cpu'], reason: 'found /dev/nvidia0' });
  });

  it('uses the CPU when no GPU device exists', () => {
    const choice = chooseExecutionProviders(probes({ listDevices: () => ['null', 'zero'] }));
    expect(choice).toEqual({ providers: ['cpu'], reason: 'no NVIDIA GPU device in /dev' });
  });

  it('does not count the control device alone as a GPU', () => {
    expect(chooseExecutionProviders(probes({ listDevices: () => ['nvidiactl'] })).providers).toEqual(['cpu']);
  });

  it('falls back to the CPU and says how to fix it when ORT lacks its CUDA binaries', () => {
    const choice = chooseExecutionProviders(probes({ cudaProviderInstalled: () => false }));
    expect(choice.providers).toEqual(['cpu']);
    expect(choice.reason).toContain('ONNXRUNTIME_NODE_INSTALL=cuda12');
  });

  it('lets the environment override detection either way', () => {
    const noGpu = probes({ listDevices: () => [], env: { PRECISEINV_EXECUTION_PROVIDER: 'cuda' } });
    expect(chooseExecutionProviders(noGpu)).toEqual({
      providers: ['cuda', 'cpu'],
      reason: 'PRECISEINV_EXECUTION_PROVIDER=cuda',
    });
    expect(chooseExecutionProviders(probes({ env: { PRECISEINV_EXECUTION_PROVIDER: 'cpu' } })).providers).toEqual(['cpu']);
  });

  it('rejects an unknown override', () => {
    expect(() => chooseExecutionProviders(probes({ env: { PRECISEINV_EXECUTION_PROVIDER: 'rocm' } }))).toThrow(
      'PRECISEINV_EXECUTION_PROVIDER must be "cuda" or "cpu" (or unset to detect), got "rocm".',
    );
  });

  it('detects this machine without throwing', () => {
    const choice = chooseExecutionProviders();
    expect(choice.providers.at(-1)).toBe('cpu');
  });
});
