/**
 * The Azure VM sizes a node pool can name, as data: vCPUs and memory from Azure's size pages, whether the size runs
 * generation 2 VMs and whether it offers nested virtualization (what Pod Sandboxing needs of a size). Sources, in
 * learn.microsoft.com/azure/virtual-machines: sizes/general-purpose/{dsv3,dv2,dsv2,dlsv5,dasv5,bv1}-series
 * ("Feature support": Nested Virtualization) and generation-2 (the series with generation 2 support; the newer
 * series pages print "Generation 1" for Dsv3 and DSv2, which contradicts it and the Pod Sandboxing walkthrough's
 * advice to use Dsv3; this table follows the generation 2 page).
 */

export interface VmSize {
  name: string;
  series: string;
  vcpus: number;
  memoryGiB: number;
  generation2: boolean;
  nestedVirtualization: boolean;
}

interface Series {
  series: string;
  generation2: boolean;
  nestedVirtualization: boolean;
  sizes: Array<[name: string, vcpus: number, memoryGiB: number]>;
}

const SERIES: Series[] = [
  {
    series: 'Dsv3', generation2: true, nestedVirtualization: true,
    sizes: [['Standard_D2s_v3', 2, 8], ['Standard_D4s_v3', 4, 16], ['Standard_D8s_v3', 8, 32], ['Standard_D16s_v3', 16, 64],
      ['Standard_D32s_v3', 32, 128], ['Standard_D48s_v3', 48, 192], ['Standard_D64s_v3', 64, 256]],
  },
  {
    series: 'Dv2', generation2: false, nestedVirtualization: false,
    sizes: [['Standard_D1_v2', 1, 3.5], ['Standard_D2_v2', 2, 7], ['Standard_D3_v2', 4, 14], ['Standard_D4_v2', 8, 28], ['Standard_D5_v2', 16, 56]],
  },
  {
    series: 'DSv2', generation2: true, nestedVirtualization: false,
    sizes: [['Standard_DS1_v2', 1, 3.5], ['Standard_DS2_v2', 2, 7], ['Standard_DS3_v2', 4, 14], ['Standard_DS4_v2', 8, 28], ['Standard_DS5_v2', 16, 56]],
  },
  {
    series: 'Dlsv5', generation2: true, nestedVirtualization: true,
    sizes: [['Standard_D2ls_v5', 2, 4], ['Standard_D4ls_v5', 4, 8], ['Standard_D8ls_v5', 8, 16], ['Standard_D16ls_v5', 16, 32],
      ['Standard_D32ls_v5', 32, 64], ['Standard_D48ls_v5', 48, 96], ['Standard_D64ls_v5', 64, 128], ['Standard_D96ls_v5', 96, 192]],
  },
  {
    series: 'Dasv5', generation2: true, nestedVirtualization: true,
    sizes: [['Standard_D2as_v5', 2, 8], ['Standard_D4as_v5', 4, 16], ['Standard_D8as_v5', 8, 32], ['Standard_D16as_v5', 16, 64],
      ['Standard_D32as_v5', 32, 128], ['Standard_D48as_v5', 48, 192], ['Standard_D64as_v5', 64, 256], ['Standard_D96as_v5', 96, 384]],
  },
  {
    series: 'Bv1', generation2: true, nestedVirtualization: false,
    sizes: [['Standard_B1ls', 1, 0.5], ['Standard_B1s', 1, 1], ['Standard_B1ms', 1, 2], ['Standard_B2s', 2, 4], ['Standard_B2ms', 2, 8],
      ['Standard_B4ms', 4, 16], ['Standard_B8ms', 8, 32], ['Standard_B12ms', 12, 48], ['Standard_B16ms', 16, 64], ['Standard_B20ms', 20, 80]],
  },
];

export const VM_SIZES: readonly VmSize[] = SERIES.flatMap((s) => s.sizes.map(([name, vcpus, memoryGiB]) => ({
  name, series: s.series, vcpus, memoryGiB, generation2: s.generation2, nestedVirtualization: s.nestedVirtualization,
})));

/** The size of that name, case-insensitively as Azure matches it. */
export function findVmSize(name: string): VmSize | undefined {
  const lower = name.toLowerCase();
  return VM_SIZES.find((s) => s.name.toLowerCase() === lower);
}

/** Whether a size can host VM-isolated pods: generation 2 with nested virtualization. */
export const runsVmIsolation = (s: VmSize): boolean => s.generation2 && s.nestedVirtualization;

/**
 * The size to suggest instead of `s` for VM isolation: a Dsv3 size (the walkthrough's advice) with at least as many
 * vCPUs, else the largest one; when `s` itself works, `s`.
 */
export function vmIsolationAlternative(s: VmSize): VmSize {
  if (runsVmIsolation(s)) return s;
  const dsv3 = VM_SIZES.filter((x) => x.series === 'Dsv3');
  return dsv3.find((x) => x.vcpus >= s.vcpus && x.memoryGiB >= s.memoryGiB) ?? dsv3.find((x) => x.vcpus >= s.vcpus) ?? dsv3[dsv3.length - 1]!;
}

/** The sizes most like `name` (same series letters or digits), for "did you mean" in messages. */
export function similarVmSizes(name: string, limit = 3): VmSize[] {
  const lower = name.toLowerCase().replace(/^standard_/, '');
  const score = (s: VmSize): number => {
    const n = s.name.toLowerCase().replace(/^standard_/, '');
    let common = 0;
    while (common < n.length && common < lower.length && n[common] === lower[common]) common++;
    return common * 10 - Math.abs(n.length - lower.length);
  };
  return [...VM_SIZES].sort((a, b) => score(b) - score(a)).slice(0, limit);
}

/** The largest size of a series that fits `cpus` and `memoryGiB` (the default cluster's node on this machine). */
export function largestFitting(series: string, cpus: number, memoryGiB: number): VmSize {
  const fits = VM_SIZES.filter((s) => s.series === series && s.vcpus <= cpus && s.memoryGiB <= memoryGiB);
  return fits[fits.length - 1] ?? VM_SIZES.find((s) => s.series === series)!;
}

export const describeVmSize = (s: VmSize): string => `${s.name} (${s.vcpus} vCPUs, ${s.memoryGiB} GiB)`;
