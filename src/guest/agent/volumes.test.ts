import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mountEntries } from '../../mounts.js';
import { mountAt } from './volumes.js';

const mountinfo = [
  '22 1 0:21 / /proc rw,relatime - proc proc rw',
  '40 30 0:45 / /run/volumes/cache rw,nosuid,nodev - tmpfs volume-cache rw,size=1024k',
  '41 35 0:45 /sub/dir /run/sandbox/rootfs/c1/data rw - tmpfs volume-cache rw,size=1024k',
  '42 35 0:46 / /run/sandbox/rootfs/c1/with\\040space rw - tmpfs x rw',
  '43 35 0:47 / /run/sandbox/rootfs/c1/data rw - tmpfs over rw',
].join('\n') + '\n';

test('mountinfo entries give device, root in the filesystem and mount point, unescaped', () => {
  const entries = mountEntries(mountinfo);
  assert.equal(entries.length, 5);
  assert.deepEqual(entries[2], { id: 41, parent: 35, device: '0:45', root: '/sub/dir', mountPoint: '/run/sandbox/rootfs/c1/data' });
  assert.equal(entries[3]?.mountPoint, '/run/sandbox/rootfs/c1/with space');
  assert.equal(mountAt(entries, '/run/sandbox/rootfs/c1/data')?.id, 43, 'the mount on top wins');
  assert.equal(mountAt(entries, '/nowhere'), undefined);
});
