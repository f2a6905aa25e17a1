import { test } from 'node:test';
import assert from 'node:assert/strict';
import { maxNesting, parseBody } from './decode.js';
import { statusFor } from './status.js';

const refused = (body: Buffer, contentType: string, message: RegExp): void => {
  assert.throws(() => parseBody(body, contentType), (err) => statusFor(err).code === 400 && message.test(statusFor(err).message ?? ''), message.source);
};

test('bodies that are not UTF-8 are refused, whatever their structure', () => {
  refused(Buffer.concat([Buffer.from('{"metadata":{"name":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}}')]), 'application/json', /not valid UTF-8/);
  refused(Buffer.from([0x61, 0x3a, 0x20, 0xff]), 'application/yaml', /not valid UTF-8/);
});

test(`nesting deeper than ${maxNesting} levels is refused before anything walks it, in JSON and YAML (flow and block)`, () => {
  const deep = (n: number): string => `${'{"n":'.repeat(n)}1${'}'.repeat(n)}`;
  assert.deepEqual(parseBody(Buffer.from(deep(maxNesting - 1)), 'application/json') !== undefined, true);
  refused(Buffer.from(deep(maxNesting + 1)), 'application/json', /nests deeper than 500 levels/);
  refused(Buffer.from(deep(100_000)), 'application/json', /nests deeper than 500 levels/);
  // The YAML parser would take the process down at this depth; the text is measured first.
  refused(Buffer.from(`a: ${deep(20_000)}`), 'application/yaml', /nests deeper than 500 levels/);
  refused(Buffer.from(`${'['.repeat(20_000)}${']'.repeat(20_000)}`), 'application/apply-patch+yaml', /nests deeper than 500 levels/);
  let block = '';
  for (let i = 0; i < 1200; i++) block += `${' '.repeat(i)}a:\n`;
  refused(Buffer.from(block), 'application/yaml', /nests deeper than 500 levels/);
});

test('JSON sent as YAML is read as JSON; YAML as YAML; nonsense is 400', () => {
  assert.deepEqual(parseBody(Buffer.from('{"a":[1,2]}'), 'application/apply-patch+yaml'), { a: [1, 2] });
  assert.deepEqual(parseBody(Buffer.from('a:\n  - 1\n  - 2\n'), 'application/yaml'), { a: [1, 2] });
  refused(Buffer.from('a: b: c'), 'application/yaml', /not valid YAML/);
  refused(Buffer.from('{"a":'), 'application/json', /not valid JSON/);
  refused(Buffer.from('  '), 'application/json', /body is empty/);
});
