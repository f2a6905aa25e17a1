/**
 * Request bodies: JSON or YAML into an object, then the resource's schema decides which fields are unknown
 * (`fieldValidation`: Strict rejects them, Warn reports them in a Warning header, Ignore drops them silently)
 * and which have the wrong type (always 400).
 */
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { dropNulls, fieldPath, isRecord, type KubeObject } from '../kube/index.js';
import { apiVersionOf, type ResourceDef } from './resources/resource.js';
import { decodeProtobufObject } from './protobuf.js';
import { isSandpodError } from '../errors.js';
import { badRequest } from './status.js';

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

export function fieldValidationOf(query: URLSearchParams): FieldValidation {
  const v = query.get('fieldValidation') ?? 'Warn';
  if (v !== 'Strict' && v !== 'Warn' && v !== 'Ignore') throw badRequest(`invalid fieldValidation "${v}": must be one of Ignore, Warn, Strict`);
  return v;
}

/**
 * How deeply a body may nest. Kubernetes objects nest a dozen levels; the limit keeps every recursive walk over a
 * body (copies, merges, validation) far from the stack's end, which a few thousand levels reach.
 */
export const maxNesting = 500;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Parses a body as JSON, or as YAML when the content type says so; protobuf for kube's own encoding. */
export function parseBody(body: Buffer | undefined, contentType: string | undefined): unknown {
  if (/protobuf/.test(contentType ?? '')) return decodeProtobufObject(body ?? Buffer.alloc(0));
  let text: string;
  try {
    text = utf8.decode(body ?? Buffer.alloc(0));
  } catch {
    throw badRequest('the request body is not valid UTF-8; send the object as JSON or YAML in UTF-8');
  }
  if (text.trim() === '') throw badRequest('the request body is empty; send the object as JSON or YAML');
  const yaml = /yaml/.test(contentType ?? '');
  let value: unknown;
  try {
    value = yaml ? parseYamlText(text) : JSON.parse(text);
  } catch (err) {
    if (isSandpodError(err)) throw err;
    throw badRequest(`the request body is not valid ${yaml ? 'YAML' : 'JSON'}: ${(err as Error).message}`);
  }
  checkNesting(value);
  return value;
}

const tooDeep = (): Error => badRequest(`the request body nests deeper than ${maxNesting} levels; no Kubernetes object does`);

/**
 * YAML, or JSON (which is YAML, and what kubectl sends) read as JSON. The YAML parser recurses, and a few thousand
 * levels of nesting can take the whole process down (V8 runs out of memory instead of throwing), so the nesting of
 * the text is measured before the parser sees it.
 */
function parseYamlText(text: string): unknown {
  if (/^\s*[[{]/.test(text)) {
    try {
      return JSON.parse(text);
    } catch {
      // Not JSON: flow-style YAML.
    }
  }
  let depth = 0;
  let indent = 0;
  let lineStart = true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0a) {
      lineStart = true;
      indent = 0;
      continue;
    }
    if (lineStart && (c === 0x20 || c === 0x2d)) {
      if (++indent > 2 * maxNesting) throw tooDeep();
      continue;
    }
    lineStart = false;
    if (c === 0x5b || c === 0x7b) {
      if (++depth > maxNesting) throw tooDeep();
    } else if ((c === 0x5d || c === 0x7d) && depth > 0) depth--;
  }
  return parseYaml(text);
}

/** Refuses values nested deeper than maxNesting, walking without recursion. */
function checkNesting(value: unknown): void {
  const stack: Array<[unknown, number]> = [[value, 1]];
  for (let item = stack.pop(); item; item = stack.pop()) {
    const [v, depth] = item;
    if (typeof v !== 'object' || v === null) continue;
    if (depth > maxNesting) throw tooDeep();
    for (const child of Object.values(v)) if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
  }
}

/** The body as an object of the resource's kind, or 400. */
export function asResourceObject(def: ResourceDef, value: unknown): KubeObject {
  if (!isRecord(value)) throw badRequest(`the request body must be a ${def.kind} object`);
  const apiVersion = value['apiVersion'] ?? apiVersionOf(def);
  const kind = value['kind'] ?? def.kind;
  if (apiVersion !== apiVersionOf(def) || kind !== def.kind) {
    throw badRequest(`the body is ${String(apiVersion)}, Kind=${String(kind)} but this path serves ${apiVersionOf(def)}, Kind=${def.kind}`);
  }
  if (value['metadata'] !== undefined && value['metadata'] !== null && !isRecord(value['metadata'])) {
    throw badRequest(`${def.kind} in version "${def.version}" cannot be handled as a ${def.kind}: metadata: expected an object`);
  }
  const metadata = isRecord(value['metadata']) ? value['metadata'] : {};
  return { ...value, apiVersion: apiVersionOf(def), kind: def.kind, metadata } as KubeObject;
}

function deleteAt(obj: unknown, path: ReadonlyArray<PropertyKey>, keys: string[]): void {
  let cur: unknown = obj;
  for (const p of path) cur = isRecord(cur) || Array.isArray(cur) ? (cur as Record<PropertyKey, unknown>)[p] : undefined;
  if (isRecord(cur)) for (const k of keys) delete cur[k];
}

/**
 * Checks the object against the resource schema, dropping null fields first. Returns warnings (Warn mode) and mutates the object to drop
 * unknown fields (Warn, Ignore); throws 400 for unknown fields in Strict mode and for wrong types.
 */
export function checkFields(def: ResourceDef, obj: KubeObject, mode: FieldValidation): string[] {
  // kube-apiserver decodes an explicit null as an unset field and never stores one.
  dropNulls(obj);
  const result = (def.schema as z.ZodType).safeParse(obj);
  if (result.success) return [];
  const unknown: string[] = [];
  const wrong: string[] = [];
  for (const issue of result.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const k of issue.keys) unknown.push(`unknown field "${fieldPath([...issue.path, k])}"`);
      if (mode !== 'Strict') deleteAt(obj, issue.path, issue.keys);
    } else {
      wrong.push(`${fieldPath(issue.path)}: ${issue.message}`);
    }
  }
  if (wrong.length > 0) throw badRequest(`${def.kind} in version "${def.version}" cannot be handled as a ${def.kind}: ${wrong.join(', ')}`);
  if (unknown.length > 0 && mode === 'Strict') throw badRequest(`${def.kind} in version "${def.version}" cannot be handled as a ${def.kind}: strict decoding error: ${unknown.join(', ')}`);
  return mode === 'Warn' ? unknown : [];
}
