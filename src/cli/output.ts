/** `-o table|json|yaml|tsv|none`, as the managed service's CLI prints objects (JSON when not asked). */
import { stringify } from 'yaml';
import { z } from 'zod';

export const outputSchema = z.enum(['json', 'jsonc', 'yaml', 'yamlc', 'table', 'tsv', 'none'], {
  error: () => 'must be one of json, yaml, table, tsv, none',
}).optional();
export type OutputFormat = NonNullable<z.infer<typeof outputSchema>>;

export interface Column<T> { header: string; value: (row: T) => string | number }

/** The rows as `format`; `columns` are what table and tsv show. */
export function render<T>(data: T | T[], format: OutputFormat | undefined, columns: Column<T>[]): string {
  const rows = Array.isArray(data) ? data : [data];
  switch (format ?? 'json') {
    case 'json':
    case 'jsonc':
      return `${JSON.stringify(data, null, 2)}\n`;
    case 'yaml':
    case 'yamlc':
      return stringify(data);
    case 'tsv':
      return rows.map((r) => columns.map((c) => String(c.value(r))).join('\t')).join('\n') + (rows.length > 0 ? '\n' : '');
    case 'table': {
      const cells = rows.map((r) => columns.map((c) => String(c.value(r))));
      const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i]!.length)));
      const line = (parts: string[]): string => parts.map((p, i) => p.padEnd(widths[i]!)).join('  ').trimEnd();
      return [line(columns.map((c) => c.header)), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n') + '\n';
    }
    case 'none':
      return '';
  }
}
