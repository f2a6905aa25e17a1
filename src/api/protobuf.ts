/**
 * Kubernetes' protobuf request bodies (`application/vnd.kubernetes.protobuf`), which kubectl's typed commands
 * send (`kubectl create namespace|configmap|secret|serviceaccount`, `kubectl auth can-i`, `kubectl auth whoami`, the
 * deletes of `kubectl drain`). Decoded with protobufjs from
 * the subset of k8s.io's generated.proto those commands need, with the upstream field numbers. Other kinds are
 * answered 415 with a way around.
 */
import protobuf from 'protobufjs';
import { SandpodError } from '../errors.js';
import { badRequest } from './status.js';

// Field numbers from k8s.io/apimachinery (runtime.Unknown, meta/v1) and k8s.io/api (core/v1).
const schema = `
syntax = "proto2";
package k8s;
message TypeMeta { optional string apiVersion = 1; optional string kind = 2; }
message Unknown { optional TypeMeta typeMeta = 1; optional bytes raw = 2; optional string contentEncoding = 3; optional string contentType = 4; }
message ObjectMeta {
  optional string name = 1; optional string generateName = 2; optional string namespace = 3; optional string uid = 5;
  optional string resourceVersion = 6; optional int64 generation = 7;
  map<string, string> labels = 11; map<string, string> annotations = 12; repeated string finalizers = 14;
}
message NamespaceSpec { repeated string finalizers = 1; }
message Namespace { optional ObjectMeta metadata = 1; optional NamespaceSpec spec = 2; }
message ConfigMap { optional ObjectMeta metadata = 1; map<string, string> data = 2; map<string, bytes> binaryData = 3; optional bool immutable = 4; }
message Secret {
  optional ObjectMeta metadata = 1; map<string, bytes> data = 2; optional string type = 3; map<string, string> stringData = 4;
  optional bool immutable = 5;
}
message ObjectReference {
  optional string kind = 1; optional string namespace = 2; optional string name = 3; optional string uid = 4;
  optional string apiVersion = 5; optional string resourceVersion = 6; optional string fieldPath = 7;
}
message LocalObjectReference { optional string name = 1; }
message ServiceAccount {
  optional ObjectMeta metadata = 1; repeated ObjectReference secrets = 2; repeated LocalObjectReference imagePullSecrets = 3;
  optional bool automountServiceAccountToken = 4;
}
message ResourceAttributes {
  optional string namespace = 1; optional string verb = 2; optional string group = 3; optional string version = 4;
  optional string resource = 5; optional string subresource = 6; optional string name = 7;
}
message NonResourceAttributes { optional string path = 1; optional string verb = 2; }
message SelfSubjectAccessReviewSpec { optional ResourceAttributes resourceAttributes = 1; optional NonResourceAttributes nonResourceAttributes = 2; }
message SelfSubjectAccessReview { optional ObjectMeta metadata = 1; optional SelfSubjectAccessReviewSpec spec = 2; }
message SelfSubjectReview { optional ObjectMeta metadata = 1; }
message Preconditions { optional string uid = 1; optional string resourceVersion = 2; }
message DeleteOptions {
  optional int64 gracePeriodSeconds = 1; optional Preconditions preconditions = 2; optional bool orphanDependents = 3;
  optional string propagationPolicy = 4; repeated string dryRun = 5;
}
`;

const root = protobuf.parse(schema, { keepCase: true }).root;
const unknownType = root.lookupType('k8s.Unknown');
const decodable: Record<string, protobuf.Type> = {
  'v1/Namespace': root.lookupType('k8s.Namespace'),
  'v1/ConfigMap': root.lookupType('k8s.ConfigMap'),
  'v1/Secret': root.lookupType('k8s.Secret'),
  'v1/ServiceAccount': root.lookupType('k8s.ServiceAccount'),
  'authorization.k8s.io/v1/SelfSubjectAccessReview': root.lookupType('k8s.SelfSubjectAccessReview'),
  'authentication.k8s.io/v1/SelfSubjectReview': root.lookupType('k8s.SelfSubjectReview'),
  'v1/DeleteOptions': root.lookupType('k8s.DeleteOptions'),
  'meta.k8s.io/v1/DeleteOptions': root.lookupType('k8s.DeleteOptions'),
};
const magic = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

/** The JSON form of a protobuf-encoded object, or 415 when its kind is not one Sandpod decodes. */
export function decodeProtobufObject(body: Buffer): Record<string, unknown> {
  if (body.length < 4 || !body.subarray(0, 4).equals(magic)) throw badRequest('the protobuf body does not start with the Kubernetes "k8s\\0" prefix');
  const envelope = decodeOrRefuse('envelope', () => unknownType.toObject(unknownType.decode(body.subarray(4)), { bytes: Buffer }) as { typeMeta?: { apiVersion?: string; kind?: string }; raw?: Buffer });
  const apiVersion = envelope.typeMeta?.apiVersion ?? '';
  const kind = envelope.typeMeta?.kind ?? '';
  const type = decodable[`${apiVersion}/${kind}`];
  if (!type || !envelope.raw) {
    throw new SandpodError('UnsupportedMediaType', `this API server does not decode protobuf ${apiVersion} ${kind} bodies; send JSON or YAML, e.g. write a manifest and use "kubectl create -f"`);
  }
  // bytes as base64 strings: the JSON form of Go's []byte (Secret data, ConfigMap binaryData).
  const raw = envelope.raw;
  const obj = decodeOrRefuse(`${apiVersion} ${kind}`, () => type.toObject(type.decode(raw), { longs: Number, bytes: String, defaults: false }) as Record<string, unknown>);
  if (obj['metadata'] !== undefined) obj['metadata'] = withoutZeroValues(obj['metadata']);
  return { apiVersion, kind, ...obj };
}

/** A decode whose failure (a truncated or corrupt message) is the client's: 400, naming what could not be read. */
function decodeOrRefuse<T>(what: string, decode: () => T): T {
  try {
    return decode();
  } catch (err) {
    throw badRequest(`the protobuf ${what} in the request body cannot be decoded: ${(err as Error).message}`);
  }
}

/**
 * ObjectMeta's plain (non-pointer) fields come out of Go's protobuf encoder as empty strings and zeros, where a
 * JSON client would have left them out. Only metadata is cleaned: elsewhere an explicit 0 (gracePeriodSeconds) means something.
 */
function withoutZeroValues(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutZeroValues);
  if (typeof v !== 'object' || v === null) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (x !== '' && x !== 0) out[k] = withoutZeroValues(x);
  return out;
}
