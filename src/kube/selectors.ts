/**
 * Label selectors (the `labelSelector` query syntax and the `matchLabels`/`matchExpressions` object form)
 * and field selectors (`fieldSelector`: terms joined by commas, `=`, `==` or `!=`, backslash escapes).
 */
import { invalid } from '../errors.js';
import { isRecord } from './object.js';

export type LabelOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | 'Gt' | 'Lt';

export interface LabelRequirement {
  key: string;
  operator: LabelOperator;
  values: string[];
}

/** Splits on commas that are not inside parentheses. */
function splitTerms(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur.trim() !== '' || out.length > 0) out.push(cur);
  return out.map((t) => t.trim()).filter((t) => t !== '');
}

/** Parses `app=web,tier!=db,env in (a,b),!legacy`. Throws Invalid on syntax errors. */
export function parseLabelSelector(text: string): LabelRequirement[] {
  return splitTerms(text).map((term) => {
    let m = /^!\s*([\w./-]+)$/.exec(term);
    if (m) return { key: m[1]!, operator: 'DoesNotExist', values: [] };
    m = /^([\w./-]+)\s*(notin|in)\s*\(([^)]*)\)$/.exec(term);
    if (m) {
      const values = m[3]!.split(',').map((v) => v.trim()).filter((v) => v !== '');
      return { key: m[1]!, operator: m[2] === 'in' ? 'In' : 'NotIn', values };
    }
    m = /^([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)$/.exec(term);
    if (m) return { key: m[1]!, operator: m[2] === '!=' ? 'NotIn' : 'In', values: [m[3]!] };
    m = /^([\w./-]+)$/.exec(term);
    if (m) return { key: m[1]!, operator: 'Exists', values: [] };
    throw invalid('labelSelector', `unable to parse requirement "${term}" in label selector "${text}"`);
  });
}

/** The requirements of a `{matchLabels, matchExpressions}` object (as in NetworkPolicy or node affinity). */
export function labelSelectorRequirements(selector: unknown): LabelRequirement[] {
  if (!isRecord(selector)) return [];
  const reqs: LabelRequirement[] = [];
  if (isRecord(selector['matchLabels'])) {
    for (const [k, v] of Object.entries(selector['matchLabels'])) reqs.push({ key: k, operator: 'In', values: [String(v)] });
  }
  const exprs = selector['matchExpressions'];
  if (Array.isArray(exprs)) {
    for (const e of exprs) {
      if (!isRecord(e)) continue;
      reqs.push({
        key: String(e['key'] ?? ''),
        operator: String(e['operator'] ?? 'In') as LabelOperator,
        values: Array.isArray(e['values']) ? e['values'].map(String) : [],
      });
    }
  }
  return reqs;
}

/** True when the labels satisfy every requirement. */
export function matchesLabels(reqs: readonly LabelRequirement[], labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return reqs.every((r) => {
    const has = Object.hasOwn(l, r.key);
    const v = l[r.key];
    switch (r.operator) {
      case 'In': return has && r.values.includes(v!);
      case 'NotIn': return !has || !r.values.includes(v!);
      case 'Exists': return has;
      case 'DoesNotExist': return !has;
      case 'Gt': return has && Number(v) > Number(r.values[0]);
      case 'Lt': return has && Number(v) < Number(r.values[0]);
    }
  });
}

export interface FieldRequirement {
  field: string;
  op: '=' | '!=';
  value: string;
}

/** Splits on an unescaped separator character. */
function splitUnescaped(text: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\\' && i + 1 < text.length) {
      cur += ch + text[i + 1]!;
      i++;
    } else if (ch === sep) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

const unescape = (s: string): string => s.replace(/\\(.)/g, '$1');

/** Parses `metadata.name=x,status.phase!=Failed`. Terms may come in any order; values escape `\ , =`. */
export function parseFieldSelector(text: string): FieldRequirement[] {
  if (text.trim() === '') return [];
  return splitUnescaped(text, ',').map((term) => {
    const m = /^((?:[^=!\\]|\\.)+?)\s*(==|=|!=)\s*(.*)$/.exec(term.trim());
    if (!m) throw invalid('fieldSelector', `invalid field selector term "${term}": expected field=value or field!=value`);
    return { field: unescape(m[1]!), op: m[2] === '!=' ? '!=' : '=', value: unescape(m[3]!) };
  });
}

/** True when the object's selectable fields satisfy every requirement. */
export function matchesFields(reqs: readonly FieldRequirement[], fields: Record<string, string>): boolean {
  return reqs.every((r) => (r.op === '=' ? fields[r.field] === r.value : fields[r.field] !== r.value));
}
