/** gRPC status codes as ttrpc carries them, and the mapping from Sandpod's error kinds. */
import type { ErrorKind } from '../errors.js';

export const Code = {
  OK: 0, Cancelled: 1, Unknown: 2, InvalidArgument: 3, DeadlineExceeded: 4, NotFound: 5, AlreadyExists: 6,
  PermissionDenied: 7, ResourceExhausted: 8, FailedPrecondition: 9, Aborted: 10, OutOfRange: 11,
  Unimplemented: 12, Internal: 13, Unavailable: 14,
} as const;
export type CodeValue = (typeof Code)[keyof typeof Code];

const byKind: Record<ErrorKind, CodeValue> = {
  NotFound: Code.NotFound, AlreadyExists: Code.AlreadyExists, Invalid: Code.InvalidArgument, Conflict: Code.Aborted,
  Unavailable: Code.Unavailable, Timeout: Code.DeadlineExceeded, FailedPrecondition: Code.FailedPrecondition, Internal: Code.Internal,
};

export const codeForKind = (kind: ErrorKind): CodeValue => byKind[kind];

const byCode = new Map<number, ErrorKind>(Object.entries(byKind).map(([k, v]) => [v, k as ErrorKind]));
export const kindForCode = (code: number): ErrorKind => byCode.get(code) ?? 'Internal';
