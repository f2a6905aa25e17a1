/** Loading the .proto contract files that sit beside the code (the build copies them into dist/). */
import protobuf from 'protobufjs';
import { fileURLToPath } from 'node:url';

const loaded = new Map<string, protobuf.Root>();

/**
 * Loads a .proto file named relative to the calling module (pass its import.meta.url), once per process (the
 * shim's modules share task.proto). Field names stay as the contract spells them (snake_case), so code and .proto
 * read alike.
 */
export function loadProto(file: string, moduleUrl: string): protobuf.Root {
  const path = fileURLToPath(new URL(file, moduleUrl));
  let root = loaded.get(path);
  if (!root) {
    root = new protobuf.Root().loadSync(path, { keepCase: true });
    loaded.set(path, root);
  }
  return root;
}

/** Decodes to a plain object: 64-bit integers as numbers, bytes as Buffers, absent fields as their defaults. */
export function decodeMessage<T>(type: protobuf.Type, data: Uint8Array): T {
  return type.toObject(type.decode(data), { longs: Number, bytes: Buffer, defaults: true, arrays: true, objects: true }) as T;
}

export function encodeMessage(type: protobuf.Type, value: Record<string, unknown>): Uint8Array {
  return type.encode(type.fromObject(value)).finish();
}
