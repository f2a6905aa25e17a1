/**
 * Records of long-lived sandboxes, one JSON file per sandbox under the state root, validated on read.
 */
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { notFound } from '../errors.js';
import { sandboxStateDir, type SandpodPaths } from '../paths.js';

export const sandboxRecordSchema = z.object({
  id: z.string(),
  rootfs: z.string(),
  cpus: z.number().int(),
  memoryMiB: z.number().int(),
  accel: z.string(),
  createdAt: z.string(),
  monitorPid: z.number().int(),
  vmPid: z.number().int(),
  command: z.array(z.string()),
  mainExit: z.object({ code: z.number().int().nullable(), signal: z.string().nullable(), error: z.string().optional() }).optional(),
});
export type SandboxRecord = z.infer<typeof sandboxRecordSchema>;

export class SandboxStore {
  constructor(private readonly paths: SandpodPaths) {}

  dir(id: string): string { return sandboxStateDir(this.paths, id); }
  mainLog(id: string): string { return join(this.dir(id), 'main.log'); }
  monitorLog(id: string): string { return join(this.dir(id), 'monitor.log'); }

  async write(record: SandboxRecord): Promise<void> {
    await mkdir(this.dir(record.id), { recursive: true });
    const file = join(this.dir(record.id), 'sandbox.json');
    await writeFile(`${file}.tmp`, JSON.stringify(record, null, 2));
    await rename(`${file}.tmp`, file);
  }

  async read(id: string): Promise<SandboxRecord> {
    let text: string;
    try {
      text = await readFile(join(this.dir(id), 'sandbox.json'), 'utf8');
    } catch (err) {
      throw notFound(`sandbox/${id}`, `no sandbox with id ${id}; 'sandpod sandbox ls' lists them`, err);
    }
    return sandboxRecordSchema.parse(JSON.parse(text));
  }

  async list(): Promise<SandboxRecord[]> {
    let ids: string[];
    try { ids = await readdir(join(this.paths.stateRoot, 'sandboxes')); } catch { return []; }
    const out: SandboxRecord[] = [];
    for (const id of ids.sort()) {
      try { out.push(await this.read(id)); } catch { /* half-created or foreign: not listed */ }
    }
    return out;
  }
}
