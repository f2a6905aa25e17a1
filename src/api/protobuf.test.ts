import { test } from 'node:test';
import assert from 'node:assert/strict';
import protobuf from 'protobufjs';
import { decodeProtobufObject } from './protobuf.js';

// An independent encoder for the envelope and a Namespace, written from the upstream field numbers.
const root = protobuf.parse(`
syntax = "proto2";
message TypeMeta { optional string apiVersion = 1; optional string kind = 2; }
message Unknown { optional TypeMeta typeMeta = 1; optional bytes raw = 2; }
message Meta { optional string name = 1; optional string generateName = 2; map<string, string> labels = 11; }
message Namespace { optional Meta metadata = 1; }
message DeleteOptions { optional int64 gracePeriodSeconds = 1; }
`).root;

function envelope(apiVersion: string, kind: string, type: string, value: Record<string, unknown>): Buffer {
  const inner = root.lookupType(type);
  const raw = inner.encode(inner.create(value)).finish();
  const unknown = root.lookupType('Unknown');
  return Buffer.concat([Buffer.from('k8s\0'), unknown.encode(unknown.create({ typeMeta: { apiVersion, kind }, raw })).finish()]);
}

test('decodes a Namespace as kubectl create namespace sends it, without Go zero values in metadata', () => {
  const body = envelope('v1', 'Namespace', 'Namespace', { metadata: { name: 'team', generateName: '', labels: { a: 'b' } } });
  assert.deepEqual(decodeProtobufObject(body), { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team', labels: { a: 'b' } } });
});

test('keeps an explicit zero grace period in DeleteOptions', () => {
  const body = envelope('v1', 'DeleteOptions', 'DeleteOptions', { gracePeriodSeconds: 0 });
  assert.deepEqual(decodeProtobufObject(body), { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0 });
});

test('other kinds are 415 with a way around; a body without the prefix is 400', () => {
  const secret = envelope('v1', 'Secret', 'Namespace', {});
  assert.throws(() => decodeProtobufObject(secret), (err: { status?: { code: number; message: string } }) =>
    err.status?.code === 415 && /use "kubectl create -f"/.test(err.status.message));
  assert.throws(() => decodeProtobufObject(Buffer.from('{}')), (err: { status?: { code: number } }) => err.status?.code === 400);
});
