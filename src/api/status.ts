/**
 * The API server's errors in kube-apiserver's words. Everything thrown is a SandpodError with a kind; the HTTP
 * edge turns it into a Kubernetes Status once, in `statusFor`, with the kind → code table of src/kube/status.ts.
 */
import { SandpodError, type ErrorDetails } from '../errors.js';
import { kindOfCode, kindOfStatus, statusOfError, type Status } from '../kube/index.js';
import { qualifiedResource, type ResourceDef } from './resources/resource.js';

type ResourceName = Pick<ResourceDef, 'group' | 'plural'>;

const detailsOf = (def: ResourceName, name: string): ErrorDetails => ({ name, group: def.group, kind: def.plural });

export const notFoundError = (def: ResourceName, name: string): SandpodError =>
  new SandpodError('NotFound', `${qualifiedResource(def)} "${name}" not found`, { details: detailsOf(def, name) });

export const alreadyExistsError = (def: ResourceDef, name: string): SandpodError =>
  new SandpodError('AlreadyExists', `${qualifiedResource(def)} "${name}" already exists`, { details: detailsOf(def, name) });

export const conflictError = (def: ResourceDef, name: string, why = 'the object has been modified; please apply your changes to the latest version and try again'): SandpodError =>
  new SandpodError('Conflict', `Operation cannot be fulfilled on ${qualifiedResource(def)} "${name}": ${why}`, { details: detailsOf(def, name) });

export const forbiddenError = (def: ResourceDef, name: string, why: string): SandpodError =>
  new SandpodError('Forbidden', `${qualifiedResource(def)} "${name}" is forbidden: ${why}`, { details: detailsOf(def, name) });

export const badRequest = (message: string): SandpodError => new SandpodError('Invalid', message);

/** `the server could not find the requested resource`, kube's 404 for paths that serve nothing. */
export const noSuchPath = (what?: string): SandpodError =>
  new SandpodError('NotFound', `the server could not find the requested resource${what ? ` (${what})` : ''}`);

/**
 * An error from a wire that reports HTTP codes (a node agent's answer the streaming proxy or the metrics source
 * relays), as the kind that code stands for; the reason decides only for codes that stand for no kind.
 */
export function failure(code: number, reason: string, message: string, details?: ErrorDetails): SandpodError {
  return new SandpodError(kindOfCode(code) ?? kindOfStatus({ code, reason }), message, details ? { details } : {});
}

/** kube-apiserver's answer to a verb a resource does not serve, with the verbs it does. */
export const methodNotAllowed = (def: ResourceName, verbs: string[], why: string): SandpodError =>
  new SandpodError('NotImplemented', `the server does not allow this method on the requested resource: ${qualifiedResource(def)} serves only ${verbs.join(' and ')} (${why})`);

/**
 * A list's continue token that is too old to read consistently (kube-apiserver's handleCompactedErrorForPaging):
 * 410 Expired, with a token that continues the list at the current revision for clients that accept that.
 */
export class ContinueExpiredError extends SandpodError {
  constructor(readonly continueToken: string | undefined) {
    super('Expired', continueToken === undefined ? continueExpired : inconsistentContinue, { object: 'list' });
  }
}

// kube-apiserver's words (apiserver/pkg/storage/etcd3/store.go).
const continueExpired = 'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.';
const inconsistentContinue = 'The provided continue parameter is too old to display a consistent list result. You can start a new list without ' +
  'the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided ' +
  'token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned ' +
  'and now may show up in the list.';

/** The Status for any thrown value. */
export function statusFor(err: unknown): Status {
  if (err instanceof SandpodError) {
    const status = statusOfError(err);
    if (err instanceof ContinueExpiredError && err.continueToken !== undefined) status.metadata = { continue: err.continueToken };
    return status;
  }
  return statusOfError(new SandpodError('Internal', `Internal error occurred: ${err instanceof Error ? err.message : String(err)}`));
}
