import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export type ExecutionProvider = 'cuda' | 'cpu';

export interface ExecutionProviderChoice {
  /** In preference order, as onnxruntime-node's `executionProviders` session option takes them. */
  providers: ExecutionProvider[];
  /** One line for the worker's startup log. */
  reason: string;
}

export interface ExecutionProviderProbes {
  env: Record<string, string | undefined>;
  /** Names of the entries in /dev. */
  listDevices: () => string[];
  /** Whether onnxruntime-node was installed with its CUDA provider library. */
  cudaProviderInstalled: () => boolean;
}

export const EXECUTION_PROVIDER_ENV = 'PRECISEINV_EXECUTION_PROVIDER';

const withCuda: ExecutionProvider[] = ['cuda', 'cpu'];
const cpuOnly: ExecutionProvider[] = ['cpu'];

/** CUDA first when an NVIDIA GPU and ORT's CUDA binaries are present, else CPU; the env variable overrides both. */
export function chooseExecutionProviders(probes: ExecutionProviderProbes = systemProbes()): ExecutionProviderChoice {
  const requested = probes.env[EXECUTION_PROVIDER_ENV]?.trim();
  if (requested === 'cuda') return { providers: withCuda, reason: `${EXECUTION_PROVIDER_ENV}=cuda` };
  if (requested === 'cpu') return { providers: cpuOnly, reason: `${EXECUTION_PROVIDER_ENV}=cpu` };
  if (requested) {
    throw new Error(`${EXECUTION_PROVIDER_ENV} must be "cuda" or "cpu" (or unset to detect), got "${requested}".`);
  }
  const gpu = probes.listDevices().find((name) => /^nvidia\d+$/.test(name));
  if (!gpu) return { providers: cpuOnly, reason: 'no NVIDIA GPU device in /dev' };
  if (!probes.cudaProviderInstalled()) {
    return {
      providers: cpuOnly,
      reason: `found /dev/${gpu}, but onnxruntime-node has no CUDA provider; reinstall with ONNXRUNTIME_NODE_INSTALL=cuda12`,
    };
  }
  return { providers: withCuda, reason: `found /dev/${gpu}` };
}

function systemProbes(): ExecutionProviderProbes {
  return {
    env: process.env,
    listDevices: () => {
      try {
        return readdirSync('/dev');
      } catch {
        return [];
      }
    },
    cudaProviderInstalled: () => {
      // The postinstall step downloads this library next to the native binding only when asked for cuda12.
      const packageDir = dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
      const bindingDir = join(packageDir, 'bin', 'napi-v6', process.platform, process.arch);
      return existsSync(join(bindingDir, 'libonnxruntime_providers_cuda.so'));
    },
  };
}
