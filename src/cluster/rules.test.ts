import { test } from 'node:test';
import assert from 'node:assert/strict';
import { machineFacts } from './machine.js';
import {
  checkPodCidr, checkPool, checkPoolDeletion, checkScale, overcommit, RuleViolation, type PoolContext, type PoolRequest, type PoolSpec,
} from './rules.js';

const machine = machineFacts(24 * 2 ** 30, 2);
const ctx = (pools: PoolSpec[] = [], nodes = 0): PoolContext => ({ pools, podCidr: '10.244.0.0/16', nodeNetwork: '10.224.9.0/24', machine, nodes });
const pool = (req: Partial<PoolRequest>, c = ctx(), first = false) => checkPool({ name: 'pool1', ...req }, c, first);
const fails = (fn: () => unknown, code: string, re: RegExp): void => {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof RuleViolation, String(err));
    assert.equal(err.code, code);
    assert.equal(err.kind, 'Invalid');
    assert.match(err.message, re);
    return true;
  });
};

test('the walkthrough\'s pool passes; the legacy runtime and OS SKU aliases pass with a note', () => {
  const v = pool({ workloadRuntime: 'KataMshvVmIsolation', osSku: 'AzureLinux', vmSize: 'Standard_D4s_v3', count: 1 }, ctx(), true);
  assert.deepEqual({ ...v.value }, {
    name: 'pool1', mode: 'System', workloadRuntime: 'KataMshvVmIsolation', osSku: 'AzureLinux', vmSize: 'Standard_D4s_v3', count: 1, maxPods: 110, labels: {}, taints: [],
  });
  assert.match(v.notes.join('\n'), /KataMshvVmIsolation is the legacy name of KataVmIsolation: accepted, same behaviour.*Prefer KataVmIsolation/);
  assert.match(v.warnings.join('\n'), /offer 4 vCPUs and 16 GiB; this machine has 2 CPUs.*overcommit/);
  const alias = pool({ workloadRuntime: 'kataVmIsolation', osSku: 'CBLMariner' });
  assert.equal(alias.value.osSku, 'AzureLinux');
  assert.equal(alias.value.workloadRuntime, 'KataVmIsolation');
  assert.match(alias.notes.join('\n'), /--os-sku CBLMariner is accepted as an alias of AzureLinux/);
  assert.equal(pool({}).value.workloadRuntime, 'OCIContainer');
  assert.equal(pool({}).value.osSku, 'Ubuntu');
  assert.equal(pool({ workloadRuntime: 'KataVmIsolation' }).value.osSku, 'AzureLinux', 'VM isolation defaults to the OS it needs');
  assert.deepEqual(pool({}).warnings, [], 'one D2s_v3 fits this machine');
});

test('runtime, OS SKU and VM size rules, each naming the flag and what works', () => {
  fails(() => pool({ workloadRuntime: 'WasmWasi' }), 'InvalidParameter', /--workload-runtime "WasmWasi" is not one of OCIContainer, KataVmIsolation, KataMshvVmIsolation/);
  fails(() => pool({ workloadRuntime: 'KataVmIsolation', osSku: 'Ubuntu' }), 'InvalidWorkloadRuntimeSettingError', /requires --os-sku AzureLinux; Ubuntu is not supported for VM isolation/);
  fails(() => pool({ workloadRuntime: 'KataMshvVmIsolation', osSku: 'Windows2022' }), 'InvalidWorkloadRuntimeSettingError', /requires --os-sku AzureLinux/);
  fails(() => pool({ osSku: 'Windows' }), 'InvalidOSSku', /Windows nodes cannot run on this Linux machine/);
  fails(() => pool({ osSku: 'Debian' }), 'InvalidParameter', /--os-sku "Debian" is not one of AzureLinux, Mariner, CBLMariner, Ubuntu/);
  fails(() => pool({ vmSize: 'Standard_X9' }), 'InvalidVMSize', /--node-vm-size "Standard_X9" is not a size this machine knows; similar: /);
  fails(() => pool({ workloadRuntime: 'KataVmIsolation', vmSize: 'Standard_DS2_v2' }), 'InvalidWorkloadRuntimeSettingError',
    /Standard_DS2_v2 \(DSv2 series\) does not support nested virtualization\. Use a size that does, such as Standard_D2s_v3 \(2 vCPUs, 8 GiB\)/);
  fails(() => pool({ workloadRuntime: 'KataVmIsolation', vmSize: 'Standard_D2_v2' }), 'InvalidWorkloadRuntimeSettingError', /does not support generation 2 VMs or nested virtualization/);
  fails(() => pool({ workloadRuntime: 'KataVmIsolation', vmSize: 'Standard_B2ms' }), 'InvalidWorkloadRuntimeSettingError', /Standard_B2ms/);
  assert.equal(pool({ vmSize: 'Standard_B2ms' }).value.vmSize, 'Standard_B2ms', 'any size runs plain pods');
});

test('names, modes, counts, maximum pods, labels and taints', () => {
  for (const bad of ['Pool1', '1pool', 'pool-1', 'averyverylongname', '']) fails(() => pool({ name: bad }), 'InvalidAgentPoolName', /must start with a lowercase letter.*1-12 characters/);
  fails(() => pool({ name: 'Nodepool2' }), 'InvalidAgentPoolName', /try "nodepool2"/);
  fails(() => pool({ mode: 'Spot' }), 'InvalidParameter', /--mode "Spot" is not one of System, User/);
  assert.equal(pool({ mode: 'system' }).value.mode, 'System');
  assert.equal(pool({}).value.mode, 'User', 'a pool added later is a User pool');
  fails(() => pool({ count: 0 }), 'InvalidNodeCount', /--node-count 0 is not valid: a pool has 1 to 88 nodes on this machine/);
  fails(() => pool({ count: 89 }), 'InvalidNodeCount', /more than this machine can carry: a cluster may have 88 nodes here .* use at most 88/);
  fails(() => pool({ count: 10 }, ctx([], 80)), 'InvalidNodeCount', /80 exist; use at most 8/);
  fails(() => pool({ maxPods: 500 }), 'InvalidParameter', /--max-pods 500 is not valid: use 10 to 250/);
  assert.deepEqual(pool({ labels: ['dept=IT', 'cost=9'] }).value.labels, { dept: 'IT', cost: '9' });
  fails(() => pool({ labels: ['novalue'] }), 'InvalidParameter', /--labels "novalue" is not key=value/);
  fails(() => pool({ labels: ['kubernetes.azure.com/mode=user'] }), 'InvalidParameter', /set by the node pool itself/);
  fails(() => pool({ labels: ['bad key=x'] }), 'InvalidParameter', /--labels "bad" is not key=value|--labels: /);
  assert.deepEqual(pool({ taints: ['sku=gpu:NoSchedule,dedicated:NoExecute'] }).value.taints, [{ key: 'sku', value: 'gpu', effect: 'NoSchedule' }, { key: 'dedicated', effect: 'NoExecute' }]);
  fails(() => pool({ taints: ['sku=gpu:Never'] }), 'InvalidParameter', /--node-taints "sku=gpu:Never" is not key=value:Effect with Effect one of NoSchedule, PreferNoSchedule, NoExecute/);
});

test('duplicates, subnets that overlap pools or the node network, subnets too small for the nodes', () => {
  const first = pool({ name: 'nodepool1' }, ctx(), true).value;
  fails(() => pool({ name: 'nodepool1' }, ctx([first])), 'AgentPoolAlreadyExists', /node pool "nodepool1" already exists/);
  const own = pool({ name: 'vm', podSubnet: '10.30.0.0/16' }, ctx([first]));
  assert.equal(own.value.podSubnet, '10.30.0.0/16');
  fails(() => pool({ name: 'vm2', podSubnet: '10.30.128.0/17' }, ctx([first, own.value])), 'InvalidPodSubnet', /--pod-subnet 10\.30\.128\.0\/17 overlaps node pool vm's pod subnet 10\.30\.0\.0\/16/);
  fails(() => pool({ name: 'vm2', podSubnet: '10.244.5.0/24' }, ctx([first])), 'InvalidPodSubnet', /overlaps the cluster's pod range 10\.244\.0\.0\/16 \(used by node pool nodepool1\)/);
  fails(() => pool({ name: 'vm2', podSubnet: '10.224.9.0/25' }, ctx([first])), 'InvalidPodSubnet', /overlaps the node network 10\.224\.0\.0\/16/);
  fails(() => pool({ name: 'vm2', podSubnet: '10.30.0.1/16' }, ctx([first])), 'InvalidPodSubnet', /has host bits set; did you mean 10\.30\.0\.0\/16/);
  assert.equal(pool({ name: 'x', podSubnet: '10.40.0.0/24', count: 2 }, ctx([first])).value.count, 2, 'a /24 holds two nodes of 110 pods');
  fails(() => pool({ name: 'x', podSubnet: '10.40.0.0/24', count: 3 }, ctx([first])), 'InvalidPodSubnet', /10\.40\.0\.0\/24 has room for 2 more node\(s\) of 110 pods \(a \/25 each\), not 3/);
  assert.equal(pool({ name: 'x', podSubnet: '10.40.0.0/24', count: 3, maxPods: 50 }, ctx([first])).value.count, 3);
  fails(() => checkPodCidr('10.224.0.0/12'), 'InvalidPodSubnet', /--pod-cidr 10\.224\.0\.0\/12 overlaps the node networks 10\.224\.0\.0\/16/);
  fails(() => checkPodCidr('10.50.0.0/26'), 'InvalidPodSubnet', /smaller than one node's \/24/);
  assert.equal(checkPodCidr(undefined), '10.244.0.0/16');
});

test('scaling keeps the count rule and the subnet\'s room; the last System pool cannot be deleted; overcommit only warns', () => {
  const sys = pool({ name: 'nodepool1' }, ctx(), true).value;
  const user = pool({ name: 'small', podSubnet: '10.40.0.0/24', count: 1 }, ctx([sys])).value;
  assert.equal(checkScale(user, 2, ctx([sys, user], 2)).value, 2);
  fails(() => checkScale(user, 3, ctx([sys, user], 2)), 'InvalidPodSubnet', /room for 2 more node\(s\)/);
  fails(() => checkScale(user, undefined, ctx([sys, user], 2)), 'InvalidParameter', /--node-count is required/);
  fails(() => checkPoolDeletion(sys, [sys, user]), 'OperationNotAllowed', /node pool nodepool1 is the cluster's last System pool and cannot be deleted; add another pool with --mode System first/);
  checkPoolDeletion(user, [sys, user]);
  checkPoolDeletion(sys, [sys, { ...user, mode: 'System' }]);
  assert.match(overcommit([{ ...sys, count: 3 }], machine).join(''), /3 node\(s\) offer 6 vCPUs and 24 GiB/);
});
