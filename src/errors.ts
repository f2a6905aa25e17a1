/**
 * One error family for all of Sandpod. Each failure has a stable `kind`; edges map kinds to their own wire codes
 * (the API server to a Kubernetes Status, the kube client back from one, ttrpc and the node's HTTP servers to
 * theirs), and nowhere else. Messages say what failed, on which object, and what to do.
 */
export type ErrorKind =
  /** The object does not exist. */
  | 'NotFound'
  /** An object of that name exists already. */
  | 'AlreadyExists'
  /** Someone else changed the object first (a stale version, a failed precondition on it). */
  | 'Conflict'
  /** The input is wrong: malformed, or (with `details.causes`) failing validation of named fields. */
  | 'Invalid'
  /** The caller is not authenticated. */
  | 'Unauthorized'
  /** The caller may not do this, or the object does not allow it now. */
  | 'Forbidden'
  /** What the caller asked for (a revision, a continue token) is older than what is kept: start again. */
  | 'Expired'
  /** The input is larger than accepted. */
  | 'TooLarge'
  /** The input's encoding is not one this side decodes. */
  | 'UnsupportedMediaType'
  /** The operation does not exist for this object. */
  | 'NotImplemented'
  /** A dependency (etcd, a node, a socket) cannot be reached now; retrying later may work. */
  | 'Unavailable'
  /** A component this one relays to (a node agent) answered, but with a failure or with something unreadable. */
  | 'BadGateway'
  | 'Timeout'
  /** The system is not in a state where this can work (a process died, a file is missing). */
  | 'FailedPrecondition'
  | 'Internal';

/** Which object and fields a failure concerns, as wire formats that carry them (Kubernetes' StatusDetails) report them. */
export interface ErrorDetails {
  name?: string;
  group?: string;
  /** A resource (`pods`) or a Kind (`Pod`), as the wire format expects. */
  kind?: string;
  uid?: string;
  causes?: Array<{ reason?: string; message?: string; field?: string }>;
  retryAfterSeconds?: number;
}

export interface ErrorOptions {
  /** The object the failure concerns, e.g. `sandbox/abc123`. */
  object?: string;
  details?: ErrorDetails;
  cause?: unknown;
}

export class SandpodError extends Error {
  readonly kind: ErrorKind;
  /** The object the failure concerns, e.g. `sandbox/abc123`. */
  readonly object: string | undefined;
  readonly details: ErrorDetails | undefined;

  constructor(kind: ErrorKind, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SandpodError';
    this.kind = kind;
    this.object = options.object;
    this.details = options.details;
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
