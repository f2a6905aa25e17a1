/** Record files: JSON checked against a schema when read, written whole (temporary file, then rename). */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { z } from 'zod';
import { failedPrecondition } from '../errors.js';

/** The file's content, or undefined when there is no file; a file that does not match the schema is an error. */
export function readJsonFile<S extends z.ZodType>(file: string, schema: S, what: string): z.infer<S> | undefined {
  if (!existsSync(file)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw failedPrecondition(file, `${what} ${file} is not JSON (${(err as Error).message}); move it away and run the command again`, err);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw failedPrecondition(file, `${what} ${file} is not valid: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'unknown shape'}; it was written by another Sandpod version or edited`);
  }
  return parsed.data;
}

export function writeJsonFile(file: string, value: unknown): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(tmp, file);
}
