/** `preciseinv models [--json]`: the model registry, one line (or JSON object) per model. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { modelRegistry } from '../models/registry.ts';
import { defineCommand, flag } from './options/command-spec.ts';

export const modelsCommand = defineCommand(
  {
    name: 'models',
    positionals: '',
    summary: 'Lists the model registry: scheduler, prediction type, inversion defaults, and whether the model folder is available locally.',
    options: { json: flag('print one JSON object per model') },
  },
  async ({ values }) => {
    for (const m of modelRegistry) {
      const local = m.artifacts.localDir ? resolve(import.meta.dirname, '..', m.artifacts.localDir) : undefined;
      const available = local !== undefined && existsSync(local);
      if (values.json) console.log(JSON.stringify({ ...m, availableLocally: available }));
      else {
        const d = m.inversionDefaults;
        console.log(
          `${m.id.padEnd(12)} ${m.displayName.padEnd(44)} ${m.scheduler.kind.padEnd(10)} ${m.denoiser.predictionType.padEnd(12)} ` +
            `${d.method} T=${d.steps} eta=${d.eta} ${available ? 'local' : `s3:${m.artifacts.prefix}`}`,
        );
      }
    }
    return 0;
  },
);
