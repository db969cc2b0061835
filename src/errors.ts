/**
 * Errors a user can act on. Library code throws these with a message that names the file and
 * what to do; only the CLI turns them into one line and an exit code.
 */
export class UserError extends Error {
  override name = 'UserError';
}

/** A stack file that cannot be read or does not fit what was asked of it. */
export class StackError extends UserError {
  override name = 'StackError';
}

/** A checkpoint or model directory that cannot be read or does not fit the config or data. */
export class CheckpointError extends UserError {
  override name = 'CheckpointError';
}

/** A configuration or command-line value that is out of range. */
export class ConfigError extends UserError {
  override name = 'ConfigError';
}

/** The user asked to stop (Ctrl-C); whatever was being written has been cleaned up. */
export class InterruptedError extends Error {
  override name = 'InterruptedError';
}
