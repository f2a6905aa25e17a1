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
import { badRequest } from './status.js';

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

export function fieldValidationOf(query: URLSearchParams): FieldValidation {
  const v = query.get('fieldValidation') ?? 'Warn';
  if (v !== 'Strict' && v !== 'Warn' && v !== 'Ignore') throw badRequest(`invalid fieldValidation "${v}": must be one of Ignore, Warn, Strict`);
  return v;
}

/** Parses a body as JSON, or as YAML when the content type says so. */
export function parseBody(body: Buffer | undefined, contentType: string | undefined): unknown {
  if (/protobuf/.test(contentType ?? '')) return decodeProtobufObject(body ?? Buffer.alloc(0));
  const text = (body ?? Buffer.alloc(0)).toString('utf8');
  if (text.trim() === '') throw badRequest('the request body is empty; send the object as JSON or YAML');
  const yaml = /yaml/.test(contentType ?? '');
  try {
    return yaml ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw badRequest(`the request body is not valid ${yaml ? 'YAML' : 'JSON'}: ${(err as Error).message}`);
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
