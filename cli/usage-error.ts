/** A mistake in how a command was called (exit status 2), as opposed to a failure while running it. */
export class UsageError extends Error {
  override name = 'UsageError';
}
