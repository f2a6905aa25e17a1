/** gRPC status codes as ttrpc carries them, and the mapping from Sandpod's error kinds. */
import type { ErrorKind } from '../errors.js';

export const Code = {
  OK: 0, Cancelled: 1, Unknown: 2, InvalidArgument: 3, DeadlineExceeded: 4, NotFound: 5, AlreadyExists: 6,
  PermissionDenied: 7, ResourceExhausted: 8, FailedPrecondition: 9, Aborted: 10, OutOfRange: 11,
  Unimplemented: 12, Internal: 13, Unavailable: 14, DataLoss: 15, Unauthenticated: 16,
} as const;
export type CodeValue = (typeof Code)[keyof typeof Code];

// As containerd's errdefs maps its kinds to gRPC codes.
const byKind: Record<ErrorKind, CodeValue> = {
  NotFound: Code.NotFound, AlreadyExists: Code.AlreadyExists, Conflict: Code.Aborted, Invalid: Code.InvalidArgument,
  Unauthorized: Code.Unauthenticated, Forbidden: Code.PermissionDenied, Expired: Code.OutOfRange, TooLarge: Code.ResourceExhausted,
  UnsupportedMediaType: Code.InvalidArgument, NotImplemented: Code.Unimplemented, Unavailable: Code.Unavailable, BadGateway: Code.Unavailable,
  Timeout: Code.DeadlineExceeded, FailedPrecondition: Code.FailedPrecondition, Internal: Code.Internal,
};

export const codeForKind = (kind: ErrorKind): CodeValue => byKind[kind];

const byCode = new Map<number, ErrorKind>([
  [Code.Cancelled, 'Unavailable'], [Code.Unknown, 'Internal'], [Code.InvalidArgument, 'Invalid'], [Code.DeadlineExceeded, 'Timeout'],
  [Code.NotFound, 'NotFound'], [Code.AlreadyExists, 'AlreadyExists'], [Code.PermissionDenied, 'Forbidden'], [Code.ResourceExhausted, 'TooLarge'],
  [Code.FailedPrecondition, 'FailedPrecondition'], [Code.Aborted, 'Conflict'], [Code.OutOfRange, 'Expired'], [Code.Unimplemented, 'NotImplemented'],
  [Code.Internal, 'Internal'], [Code.Unavailable, 'Unavailable'], [Code.DataLoss, 'Internal'], [Code.Unauthenticated, 'Unauthorized'],
]);
export const kindForCode = (code: number): ErrorKind => byCode.get(code) ?? 'Internal';
