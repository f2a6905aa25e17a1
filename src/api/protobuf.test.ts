import { test } from 'node:test';
import assert from 'node:assert/strict';
import protobuf from 'protobufjs';
import { decodeProtobufObject } from './protobuf.js';
import { statusFor } from './status.js';

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

// Bodies kubectl 1.32 sent, captured byte for byte: `kubectl create configmap c1 --from-literal=a=1
// --from-file=bin.dat` (bin.dat holds 00 ff 10), `kubectl create secret generic s1 --from-literal=p=secret` and
// `kubectl create serviceaccount sa1`.
const kubectlBodies = {
  configMap: 'azhzAAoPCgJ2MRIJQ29uZmlnTWFwEiwKEgoCYzESABoAIgAqADIAOABCABIGCgFhEgExGg4KB2Jpbi5kYXQSAwD/EBoAIgA=',
  secret: 'azhzAAoMCgJ2MRIGU2VjcmV0EiMKEgoCczESABoAIgAqADIAOABCABILCgFwEgZzZWNyZXQaABoAIgA=',
  serviceAccount: 'azhzAAoUCgJ2MRIOU2VydmljZUFjY291bnQSFQoTCgNzYTESABoAIgAqADIAOABCABoAIgA=',
};

test('decodes the ConfigMap, Secret and ServiceAccount kubectl create sends; bytes become base64 as in JSON', () => {
  assert.deepEqual(decodeProtobufObject(Buffer.from(kubectlBodies.configMap, 'base64')), {
    apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c1' }, data: { a: '1' }, binaryData: { 'bin.dat': 'AP8Q' },
  });
  // Go writes the plain string `type` even when empty; the Secret strategy defaults it to Opaque.
  assert.deepEqual(decodeProtobufObject(Buffer.from(kubectlBodies.secret, 'base64')), {
    apiVersion: 'v1', kind: 'Secret', metadata: { name: 's1' }, data: { p: Buffer.from('secret').toString('base64') }, type: '',
  });
  assert.deepEqual(decodeProtobufObject(Buffer.from(kubectlBodies.serviceAccount, 'base64')), {
    apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'sa1' },
  });
});

test('other kinds are 415 with a way around; a body without the prefix is 400', () => {
  const deployment = envelope('apps/v1', 'Deployment', 'Namespace', {});
  assert.throws(() => decodeProtobufObject(deployment), (err) => statusFor(err).code === 415 && /use "kubectl create -f"/.test(statusFor(err).message ?? ''));
  assert.throws(() => decodeProtobufObject(Buffer.from('{}')), (err) => statusFor(err).code === 400);
});
