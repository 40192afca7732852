import type { ModelManifest } from '../../shared/contracts/model-manifest.ts';

export interface InstanceCapacity {
  vcpus: number;
  memoryMiB: number;
  gpus: number;
  gpuMemoryGiB: number;
}

// The instance types the registry uses; a task that does not fit would sit in PROVISIONING forever.
export const instanceCatalog: Readonly<Record<string, InstanceCapacity>> = {
  'c7i.large': { vcpus: 2, memoryMiB: 4096, gpus: 0, gpuMemoryGiB: 0 },
  'g5.xlarge': { vcpus: 4, memoryMiB: 16384, gpus: 1, gpuMemoryGiB: 24 },
  'g5.2xlarge': { vcpus: 8, memoryMiB: 32768, gpus: 1, gpuMemoryGiB: 24 },
  'g6e.xlarge': { vcpus: 4, memoryMiB: 32768, gpus: 1, gpuMemoryGiB: 48 },
  'g6e.2xlarge': { vcpus: 8, memoryMiB: 65536, gpus: 1, gpuMemoryGiB: 48 },
};

// The OS, Docker and the ECS agent keep part of the RAM; ECS registers less than the instance has.
const registrableMemoryFraction = 0.9;

/** The instance type's capacity, after checking that one task of this model fits on it. */
export function instanceFor(model: ModelManifest): InstanceCapacity {
  const { fleet } = model;
  const capacity = instanceCatalog[fleet.instanceType];
  const problem = (what: string) =>
    new Error(`Model "${model.id}": fleet.instanceType ${fleet.instanceType} ${what}.`);
  if (!capacity) {
    const known = Object.keys(instanceCatalog).join(', ');
    throw problem(`is not in cdk/lib/instance-catalog.ts (known: ${known}); add its vCPUs, memory and GPUs there`);
  }
  if (fleet.gpuCount > capacity.gpus) throw problem(`has ${capacity.gpus} GPU(s), fleet.gpuCount asks for ${fleet.gpuCount}`);
  if (fleet.gpuMemoryGiB > capacity.gpuMemoryGiB) {
    throw problem(`has ${capacity.gpuMemoryGiB} GiB per GPU, fleet.gpuMemoryGiB needs ${fleet.gpuMemoryGiB}`);
  }
  if (fleet.cpu > capacity.vcpus * 1024) throw problem(`has ${capacity.vcpus * 1024} CPU units, fleet.cpu asks for ${fleet.cpu}`);
  const registrable = Math.floor(capacity.memoryMiB * registrableMemoryFraction);
  if (fleet.memoryMiB > registrable) {
    throw problem(`leaves about ${registrable} MiB to tasks, fleet.memoryMiB asks for ${fleet.memoryMiB}`);
  }
  return capacity;
}
