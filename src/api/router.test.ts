import { test } from 'node:test';
import assert from 'node:assert/strict';
import { route } from './router.js';

const q = (s = ''): URLSearchParams => new URLSearchParams(s);

test('routes resource paths to verbs', () => {
  assert.deepEqual(route('GET', '/api/v1/namespaces/default/pods', q()), { type: 'resource', verb: 'list', group: '', version: 'v1', plural: 'pods', namespace: 'default' });
  assert.equal((route('GET', '/api/v1/pods', q('watch=true')) as { verb: string }).verb, 'watch');
  assert.deepEqual(route('POST', '/api/v1/namespaces/a/pods/x/binding', q()), { type: 'resource', verb: 'create', group: '', version: 'v1', plural: 'pods', namespace: 'a', name: 'x', subresource: 'binding' });
  assert.equal((route('GET', '/api/v1/namespaces/a/pods/x/exec', q()) as { verb: string }).verb, 'connect');
  assert.equal((route('POST', '/api/v1/namespaces/a/pods/x/portforward', q()) as { verb: string }).verb, 'connect', 'kubectl\'s SPDY port-forward');
  assert.equal((route('GET', '/api/v1/namespaces/a/pods/x/portforward', q()) as { verb: string }).verb, 'connect', 'the WebSocket tunnel');
  assert.deepEqual(route('DELETE', '/apis/node.k8s.io/v1/runtimeclasses/runc', q()), { type: 'resource', verb: 'delete', group: 'node.k8s.io', version: 'v1', plural: 'runtimeclasses', name: 'runc' });
  assert.deepEqual(route('PUT', '/api/v1/namespaces/x/finalize', q()), { type: 'resource', verb: 'update', group: '', version: 'v1', plural: 'namespaces', name: 'x', subresource: 'finalize' });
  assert.deepEqual(route('GET', '/api/v1/namespaces/x', q()), { type: 'resource', verb: 'get', group: '', version: 'v1', plural: 'namespaces', name: 'x' });
});

test('routes discovery and openapi', () => {
  assert.deepEqual(route('GET', '/api', q()), { type: 'apiVersions' });
  assert.deepEqual(route('GET', '/apis/networking.k8s.io/v1', q()), { type: 'resourceList', group: 'networking.k8s.io', version: 'v1' });
  assert.deepEqual(route('GET', '/openapi/v3/apis/node.k8s.io/v1', q()), { type: 'openapiDocument', key: 'apis/node.k8s.io/v1' });
  assert.deepEqual(route('GET', '/nope', q()), { type: 'unknown' });
});
