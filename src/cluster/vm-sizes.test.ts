import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findVmSize, largestFitting, runsVmIsolation, similarVmSizes, vmIsolationAlternative, VM_SIZES } from './vm-sizes.js';

test('the table has the families the issue names, with the walkthrough size fit for VM isolation', () => {
  for (const series of ['Dsv3', 'Dv2', 'DSv2', 'Dlsv5', 'Dasv5', 'Bv1']) assert.ok(VM_SIZES.some((s) => s.series === series), series);
  assert.equal(new Set(VM_SIZES.map((s) => s.name)).size, VM_SIZES.length, 'no size twice');
  const d4 = findVmSize('standard_d4s_v3');
  assert.deepEqual(d4 && { name: d4.name, vcpus: d4.vcpus, memoryGiB: d4.memoryGiB, vm: runsVmIsolation(d4) }, { name: 'Standard_D4s_v3', vcpus: 4, memoryGiB: 16, vm: true });
  assert.equal(findVmSize('Standard_D1_v2')?.memoryGiB, 3.5);
  assert.equal(findVmSize('Standard_D96as_v5')?.memoryGiB, 384);
  assert.equal(findVmSize('Standard_Nope'), undefined);
});

test('nested virtualization and generation 2 per family, as Azure\'s size pages give them', () => {
  const vm = (n: string): boolean => runsVmIsolation(findVmSize(n)!);
  assert.equal(vm('Standard_D2s_v3'), true);
  assert.equal(vm('Standard_D8ls_v5'), true);
  assert.equal(vm('Standard_D4as_v5'), true);
  assert.equal(vm('Standard_DS2_v2'), false, 'DSv2: generation 2 but no nested virtualization');
  assert.equal(findVmSize('Standard_DS2_v2')?.generation2, true);
  assert.equal(vm('Standard_D2_v2'), false, 'Dv2: neither');
  assert.equal(findVmSize('Standard_D2_v2')?.generation2, false);
  assert.equal(vm('Standard_B4ms'), false, 'B-series: no nested virtualization');
});

test('an alternative for VM isolation keeps at least the vCPUs and memory; the default node fits the machine', () => {
  assert.equal(vmIsolationAlternative(findVmSize('Standard_DS2_v2')!).name, 'Standard_D2s_v3');
  assert.equal(vmIsolationAlternative(findVmSize('Standard_D4_v2')!).name, 'Standard_D8s_v3', '8 vCPUs, 28 GiB → D8s_v3 (32 GiB)');
  assert.equal(vmIsolationAlternative(findVmSize('Standard_B20ms')!).name, 'Standard_D32s_v3');
  assert.equal(largestFitting('Dsv3', 2, 23.4).name, 'Standard_D2s_v3');
  assert.equal(largestFitting('Dsv3', 16, 128).name, 'Standard_D16s_v3');
  assert.equal(largestFitting('Dsv3', 1, 2).name, 'Standard_D2s_v3', 'the smallest when none fits');
  assert.ok(similarVmSizes('Standard_D4s_v4').some((s) => s.name === 'Standard_D4s_v3'));
});
