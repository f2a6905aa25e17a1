/**
 * What ConfigMaps and Secrets share: maps from config keys to values, byte values that travel as base64 (Go's
 * encoding/json form of []byte), kube's 1 MiB bound on their total size, and the `immutable` rule.
 */
import { z } from 'zod';
import { checkConfigKey, forbidden, invalidValue, isRecord, tooLong, type FieldError, type KubeObject } from '../../kube/index.js';

/** kube's MaxSecretSize; it bounds ConfigMaps as well. */
export const maxDataBytes = 1024 * 1024;

const base64Alphabet = /^[A-Za-z0-9+/]$/;
const isNewline = (c: string | undefined): boolean => c === '\n' || c === '\r';

/**
 * The byte offset at which Go's `base64.StdEncoding` stops decoding `value`, or undefined when it decodes.
 * kube-apiserver reports bad []byte fields with Go's words and offset ("illegal base64 data at input byte N"), so
 * this follows Go's decoder: padding is required, CR and LF are skipped, anything after the padding is an error.
 */
export function base64ErrorOffset(value: string): number | undefined {
  // Go counts bytes, and JSON strings reach it as UTF-8.
  const src = [...Buffer.from(value, 'utf8').toString('latin1')];
  let si = 0;
  while (si < src.length) {
    for (let j = 0; j < 4; j++) {
      if (si === src.length) {
        if (j === 0) return undefined;
        return si - j;
      }
      const c = src[si++]!;
      if (base64Alphabet.test(c)) continue;
      if (isNewline(c)) {
        j--;
        continue;
      }
      if (c !== '=' || j < 2) return si - 1;
      if (j === 2) {
        while (si < src.length && isNewline(src[si])) si++;
        if (si === src.length) return src.length;
        if (src[si] !== '=') return si - 1;
        si++;
      }
      while (si < src.length && isNewline(src[si])) si++;
      return si < src.length ? si : undefined;
    }
  }
  return undefined;
}

/** A []byte value: a string Go's base64 decoder accepts, or a 400 with its message (never the value: it may be secret). */
export const base64Value = z.string().superRefine((value, ctx) => {
  const at = base64ErrorOffset(value);
  if (at !== undefined) ctx.addIssue({ code: 'custom', message: `illegal base64 data at input byte ${at}` });
});

/** `map[string]string` or `map[string][]byte`; null is how YAML writes an empty `data:` and means none. */
export const stringMap = z.record(z.string(), z.string()).nullable().optional();
export const bytesMap = z.record(z.string(), base64Value).nullable().optional();

export const entriesOf = (v: unknown): Array<[string, string]> =>
  (isRecord(v) ? Object.entries(v).filter((e): e is [string, string] => typeof e[1] === 'string') : []);

/** Bytes a base64 value stands for (the schema has already checked it decodes). */
export const decodedLength = (b64: string): number => Buffer.from(b64, 'base64').length;

/** Each key's problems, at `field[key]`. */
export function checkKeys(map: unknown, field: string): FieldError[] {
  return entriesOf(map).flatMap(([key]) => checkConfigKey(key).map((msg) => invalidValue(`${field}[${key}]`, key, msg)));
}

/** The 1 MiB bound; `field` is "" when the error concerns the whole object (ConfigMap), as kube reports it. */
export function checkTotalSize(bytes: number, field: string): FieldError[] {
  return bytes > maxDataBytes ? [tooLong(field, maxDataBytes)] : [];
}

/** Empty and missing maps are the same thing once stored (kube stores protobuf, where they cannot differ). */
function sameMap(a: unknown, b: unknown): boolean {
  const x = new Map(entriesOf(a));
  const y = entriesOf(b);
  return x.size === y.length && y.every(([k, v]) => x.get(k) === v);
}

/**
 * Once an object was stored with `immutable: true`, neither that flag nor the named data fields may change
 * (kube's ValidateConfigMapUpdate and ValidateSecretUpdate).
 */
export function checkImmutableUpdate(obj: KubeObject, old: KubeObject, dataFields: readonly string[]): FieldError[] {
  if (old['immutable'] !== true) return [];
  const why = 'field is immutable when `immutable` is set';
  const errs = obj['immutable'] === true ? [] : [forbidden('immutable', why)];
  for (const f of dataFields) if (!sameMap(obj[f], old[f])) errs.push(forbidden(f, why));
  return errs;
}

/** Drops fields that are null (YAML's empty value), which kube's decoder turns into "not set". */
export function dropNulls(obj: KubeObject, fields: readonly string[]): void {
  for (const f of fields) if (obj[f] === null) delete obj[f];
}
