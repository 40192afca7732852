/** Every `preciseinv` command; a new command declares its option table in its own file and joins this list. */
import { editCommand } from './edit-command.ts';
import { gradcheckCommand } from './gradcheck-command.ts';
import { interpolateCommand } from './interpolate-command.ts';
import { invertCommand } from './invert-command.ts';
import { modelsCommand } from './models-command.ts';
import type { Command } from './options/command-spec.ts';
import { prepareCommand } from './prepare-command.ts';
import { serveCommand } from './serve-command.ts';

export const commands: readonly Command[] = [invertCommand, editCommand, interpolateCommand, modelsCommand, prepareCommand, serveCommand, gradcheckCommand];
