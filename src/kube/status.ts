/**
 * Kubernetes `Status` ↔ Sandpod error kinds: the one table both HTTP edges use, the API server to answer a failure
 * and the kube client to read one back. Codes and reasons are apimachinery's (pkg/api/errors, metav1.StatusReason).
 */
import { SandpodError, type ErrorKind } from '../errors.js';
import type { Status } from './object.js';

interface Wire {
  code: number;
  reason: string;
}

const byKind: Record<ErrorKind, Wire> = {
  NotFound: { code: 404, reason: 'NotFound' },
  AlreadyExists: { code: 409, reason: 'AlreadyExists' },
  Conflict: { code: 409, reason: 'Conflict' },
  Invalid: { code: 400, reason: 'BadRequest' },
  Unauthorized: { code: 401, reason: 'Unauthorized' },
  Forbidden: { code: 403, reason: 'Forbidden' },
  Expired: { code: 410, reason: 'Expired' },
  TooLarge: { code: 413, reason: 'RequestEntityTooLarge' },
  UnsupportedMediaType: { code: 415, reason: 'UnsupportedMediaType' },
  NotImplemented: { code: 405, reason: 'MethodNotAllowed' },
  Unavailable: { code: 503, reason: 'ServiceUnavailable' },
  BadGateway: { code: 502, reason: 'InternalError' },
  Timeout: { code: 504, reason: 'Timeout' },
  FailedPrecondition: { code: 400, reason: 'BadRequest' },
  Internal: { code: 500, reason: 'InternalError' },
};

/** The HTTP code of each kind, for HTTP servers that answer in plain text (the node agent's streaming server). */
export const httpCodes = Object.fromEntries(Object.entries(byKind).map(([k, w]) => [k, w.code])) as Record<ErrorKind, number>;

/**
 * The Status for an error. Invalid input that names its fields is kube's 422 Invalid (what `kubectl apply` prints as
 * "is invalid: spec.x: …"); other invalid input is 400 BadRequest.
 */
export function statusOfError(err: SandpodError): Status {
  const wire = err.kind === 'Invalid' && err.details?.causes !== undefined ? { code: 422, reason: 'Invalid' } : byKind[err.kind];
  return {
    kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: err.message, reason: wire.reason,
    ...(err.details ? { details: err.details } : {}), code: wire.code,
  };
}

// InternalError is also the reason of codes kube has no reason for (502), so it leaves the decision to the code.
const byReason = new Map<string, ErrorKind>([
  ...Object.entries(byKind).filter(([, w]) => w.reason !== 'InternalError').map(([kind, w]) => [w.reason, kind as ErrorKind] as const),
  ['BadRequest', 'Invalid'], ['Invalid', 'Invalid'], ['Gone', 'Expired'], ['ServerTimeout', 'Timeout'], ['TooManyRequests', 'Unavailable'],
]);

const byCode = new Map<number, ErrorKind>([
  [400, 'Invalid'], [401, 'Unauthorized'], [403, 'Forbidden'], [404, 'NotFound'], [405, 'NotImplemented'], [409, 'Conflict'],
  [410, 'Expired'], [413, 'TooLarge'], [415, 'UnsupportedMediaType'], [422, 'Invalid'], [429, 'Unavailable'], [500, 'Internal'],
  [502, 'BadGateway'], [503, 'Unavailable'], [504, 'Timeout'],
]);

/** The kind an HTTP code stands for, when it stands for one. */
export const kindOfCode = (code: number): ErrorKind | undefined => byCode.get(code);

/** The kind a Status stands for: by its reason when it is one of kube's, otherwise by its code. */
export function kindOfStatus(status: Pick<Status, 'code' | 'reason'>): ErrorKind {
  return (status.reason ? byReason.get(status.reason) : undefined) ?? byCode.get(status.code) ?? 'Internal';
}
