/** A one-line progress bar on stderr, for terminals only. */
export function progressBar(enabled: boolean): { update(done: number, of: number, label: string): void; end(): void } {
  let drawn = false;
  return {
    update(done, of, label) {
      if (!enabled) return;
      const width = 30;
      const filled = Math.round((done / of) * width);
      process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${label} ${done}/${of}   `);
      drawn = true;
    },
    end() {
      if (drawn) process.stderr.write('\n');
    },
  };
}
