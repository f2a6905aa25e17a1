/**
 * One error type for all of Sandpod. Each failure has a stable `kind`; edges (the API server, the shim,
 * the CLI) map kinds to their own wire codes. Messages say what failed, on which object, and what to do.
 */
export type ErrorKind =
  | 'NotFound'
  | 'AlreadyExists'
  | 'Invalid'
  | 'Conflict'
  | 'Unavailable'
  | 'Timeout'
  | 'FailedPrecondition'
  | 'Internal';

export class SandpodError extends Error {
  readonly kind: ErrorKind;
  /** The object the failure concerns, e.g. `sandbox/abc123`. */
  readonly object: string | undefined;

  constructor(kind: ErrorKind, message: string, options: { object?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SandpodError';
    this.kind = kind;
    this.object = options.object;
  }
}

export const notFound = (object: string, message: string, cause?: unknown): SandpodError =>
  new SandpodError('NotFound', message, { object, cause });
export const invalid = (object: string, message: string, cause?: unknown): SandpodError =>
  new SandpodError('Invalid', message, { object, cause });
export const unavailable = (object: string, message: string, cause?: unknown): SandpodError =>
  new SandpodError('Unavailable', message, { object, cause });
export const timeout = (object: string, message: string, cause?: unknown): SandpodError =>
  new SandpodError('Timeout', message, { object, cause });
export const failedPrecondition = (object: string, message: string, cause?: unknown): SandpodError =>
  new SandpodError('FailedPrecondition', message, { object, cause });
export const internal = (object: string, message: string, cause?: unknown): SandpodError =>
  new SandpodError('Internal', message, { object, cause });

export function isSandpodError(err: unknown, kind?: ErrorKind): err is SandpodError {
  return err instanceof SandpodError && (kind === undefined || err.kind === kind);
}

/** A one-line description of any thrown value, for logs and CLI output. */
export function describeError(err: unknown): string {
  if (err instanceof SandpodError) return err.object ? `${err.object}: ${err.message}` : err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}
