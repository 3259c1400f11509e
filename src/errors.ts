import { EXIT } from './types.js';

/** A problem with the command line or config file: exit 2, message names the option. */
export class UsageError extends Error {
  readonly exitCode = EXIT.usage;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** An error the user should see as one clear message (no stack), with its exit code. */
export class DoctorError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly fix?: string,
  ) {
    super(message);
    this.name = 'DoctorError';
  }
}

/** Thrown by a probe whose command ran past its time limit (the probe runner turns it into a `timeout` outcome). */
export class ProbeTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProbeTimeoutError';
  }
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** Why a file could not be read, in words a user acts on. */
export function describeReadError(error: unknown): string {
  switch ((error as NodeJS.ErrnoException)?.code) {
    case 'ENOENT':
      return 'it does not exist';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a folder';
    default:
      return errorMessage(error);
  }
}
