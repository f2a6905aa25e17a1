/**
 * Kubernetes Status errors. Handlers throw `ApiError` for wire-specific answers (401, 404 with resource names,
 * 409, 410, 415, 422); any other SandpodError is mapped here by its kind, once, at the edge.
 */
import { SandpodError } from '../errors.js';
import { ValidationError, type Status } from '../kube/index.js';
import { RevisionCompactedError } from './store.js';
import { qualifiedResource, type ResourceDef } from './resources/resource.js';

export class ApiError extends Error {
  constructor(readonly status: Status) {
    super(status.message);
    this.name = 'ApiError';
  }
}

export function failure(code: number, reason: string, message: string, details?: Status['details']): ApiError {
  return new ApiError({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code });
}

type ResourceName = Pick<ResourceDef, 'group' | 'plural'>;

const detailsOf = (def: ResourceName, name: string): Status['details'] => ({ name, group: def.group, kind: def.plural });

export const notFoundError = (def: ResourceName, name: string): ApiError =>
  failure(404, 'NotFound', `${qualifiedResource(def)} "${name}" not found`, detailsOf(def, name));

export const alreadyExistsError = (def: ResourceDef, name: string): ApiError =>
  failure(409, 'AlreadyExists', `${qualifiedResource(def)} "${name}" already exists`, detailsOf(def, name));

export const conflictError = (def: ResourceDef, name: string, why = 'the object has been modified; please apply your changes to the latest version and try again'): ApiError =>
  failure(409, 'Conflict', `Operation cannot be fulfilled on ${qualifiedResource(def)} "${name}": ${why}`, detailsOf(def, name));

export const forbiddenError = (def: ResourceDef, name: string, why: string): ApiError =>
  failure(403, 'Forbidden', `${qualifiedResource(def)} "${name}" is forbidden: ${why}`, detailsOf(def, name));

export const badRequest = (message: string): ApiError => failure(400, 'BadRequest', message);

/** kube-apiserver's answer to a verb a resource does not serve, with the verbs it does. */
export const methodNotAllowed = (def: ResourceName, verbs: string[], why: string): ApiError =>
  failure(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource: ${qualifiedResource(def)} serves only ${verbs.join(' and ')} (${why})`);

/** The Status for any thrown value. */
export function statusFor(err: unknown): Status {
  if (err instanceof ApiError) return err.status;
  if (err instanceof ValidationError) {
    return failure(422, 'Invalid', err.message, {
      name: err.objectName, group: '', kind: err.kindName,
      causes: err.errors.map((e) => ({ reason: e.type, message: e.detail, field: e.field })),
    }).status;
  }
  if (err instanceof RevisionCompactedError) return failure(410, 'Expired', err.message).status;
  if (err instanceof SandpodError) {
    switch (err.kind) {
      case 'NotFound': return failure(404, 'NotFound', err.message).status;
      case 'AlreadyExists': return failure(409, 'AlreadyExists', err.message).status;
      case 'Conflict': return failure(409, 'Conflict', err.message).status;
      case 'Invalid': return failure(400, 'BadRequest', err.message).status;
      case 'Unavailable': return failure(503, 'ServiceUnavailable', err.message).status;
      case 'Timeout': return failure(504, 'Timeout', err.message).status;
      case 'FailedPrecondition': return failure(400, 'BadRequest', err.message).status;
      case 'Internal': return failure(500, 'InternalError', err.message).status;
    }
  }
  return failure(500, 'InternalError', `Internal error occurred: ${err instanceof Error ? err.message : String(err)}`).status;
}
