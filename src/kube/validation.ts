/**
 * Field-path validation errors in Kubernetes' own vocabulary (Required value, Invalid value, Unsupported
 * value, Duplicate value, Forbidden), and the name rules every object follows.
 */
import { SandpodError } from '../errors.js';

export type FieldErrorType =
  | 'FieldValueRequired' | 'FieldValueInvalid' | 'FieldValueNotSupported' | 'FieldValueDuplicate' | 'FieldValueForbidden'
  | 'FieldValueTooLong' | 'FieldValueNotFound';

export interface FieldError {
  type: FieldErrorType;
  field: string;
  /** The whole text after `<field>: `, as kube-apiserver prints it. */
  detail: string;
}

/** Longest value an error message repeats whole; a longer one (a request may carry megabytes) is cut, and says so. */
export const MAX_SHOWN = 1024;
const cut = (s: string): string => (s.length > MAX_SHOWN ? `${s.slice(0, MAX_SHOWN)}... (${s.length} characters in all)` : s);
const show = (v: unknown): string => cut(typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v) ?? String(v));

export const required = (field: string): FieldError => ({ type: 'FieldValueRequired', field, detail: 'Required value' });
export const invalidValue = (field: string, value: unknown, msg: string): FieldError =>
  ({ type: 'FieldValueInvalid', field, detail: `Invalid value: ${show(value)}: ${msg}` });
export const notSupported = (field: string, value: unknown, allowed: readonly string[]): FieldError =>
  ({ type: 'FieldValueNotSupported', field, detail: `Unsupported value: ${show(value)}: supported values: ${allowed.map((a) => `"${a}"`).join(', ')}` });
export const duplicate = (field: string, value: unknown): FieldError => ({ type: 'FieldValueDuplicate', field, detail: `Duplicate value: ${show(value)}` });
export const forbidden = (field: string, msg: string): FieldError => ({ type: 'FieldValueForbidden', field, detail: `Forbidden: ${msg}` });
export const notFoundValue = (field: string, value: unknown): FieldError => ({ type: 'FieldValueNotFound', field, detail: `Not found: ${show(value)}` });
/** Never shows the value: it is too long to print and may be secret. */
export const tooLong = (field: string, maxBytes: number): FieldError =>
  ({ type: 'FieldValueTooLong', field, detail: `Too long: may not be more than ${maxBytes} bytes` });

/** Thrown by validation with all field errors of one object; they are its causes, so the API edge answers 422 Invalid. */
export class ValidationError extends SandpodError {
  readonly kindName: string;
  readonly objectName: string;
  readonly errors: FieldError[];
  constructor(kindName: string, name: string, errors: FieldError[]) {
    const objectName = cut(name);
    const list = errors.map((e) => `${e.field}: ${e.detail}`);
    super('Invalid', `${kindName} "${objectName}" is invalid: ${list.length === 1 ? list[0]! : `[${list.join(', ')}]`}`, {
      object: `${kindName}/${objectName}`,
      details: { name: objectName, group: '', kind: kindName, causes: errors.map((e) => ({ reason: e.type, message: e.detail, field: e.field })) },
    });
    this.kindName = kindName;
    this.objectName = objectName;
    this.errors = errors;
  }
}

/** `spec.containers[0].image` from a path of keys and indexes. */
export function fieldPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out;
}

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Problems with a DNS-1123 subdomain name (most object names), as kube-apiserver words them. */
export function checkDns1123Subdomain(value: string): string | undefined {
  if (value.length > 253) return 'must be no more than 253 characters';
  if (!dns1123Subdomain.test(value)) {
    return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
  }
  return undefined;
}

/** Problems with a DNS-1123 label (namespace names, container names). */
export function checkDns1123Label(value: string): string | undefined {
  if (value.length > 63) return 'must be no more than 63 characters';
  if (!dns1123Label.test(value)) {
    return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
  }
  return undefined;
}

const qualifiedName = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

/** Label keys and values: `prefix/name` keys, values up to 63 characters. */
export function checkLabels(labels: Record<string, unknown> | undefined, field: string): FieldError[] {
  const errs: FieldError[] = [];
  for (const [k, v] of Object.entries(labels ?? {})) {
    const name = k.includes('/') ? k.slice(k.indexOf('/') + 1) : k;
    if (name.length > 63 || !qualifiedName.test(name)) errs.push(invalidValue(field, k, 'name part must consist of alphanumeric characters, \'-\', \'_\' or \'.\', and must start and end with an alphanumeric character'));
    if (typeof v !== 'string') errs.push(invalidValue(`${field}.${k}`, v, 'must be a string'));
    else if (v !== '' && (v.length > 63 || !qualifiedName.test(v))) errs.push(invalidValue(field, v, "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"));
  }
  return errs;
}

const configKey = /^[-._a-zA-Z0-9]+$/;

/** Problems with a ConfigMap or Secret key (it becomes a file name in volumes, hence no `..`), as kube words them. */
export function checkConfigKey(key: string): string[] {
  const errs: string[] = [];
  if (key.length > 253) errs.push('must be no more than 253 characters');
  if (!configKey.test(key)) {
    errs.push("a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')");
  }
  if (key === '.') errs.push("must not be '.'");
  else if (key === '..') errs.push("must not be '..'");
  else if (key.startsWith('..')) errs.push("must not start with '..'");
  return errs;
}
