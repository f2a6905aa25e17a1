import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closure, globToRegex, loadOrder, modinfoFields, moduleInfo, moduleTables, type ModuleInfo } from './modules.js';

/** A minimal ELF64 LE relocatable with a section-name table and a .modinfo section, as the kernel build writes. */
function elfWithModinfo(fields: string[]): Buffer {
  const shstrtab = Buffer.from('\0.shstrtab\0.modinfo\0');
  const modinfo = Buffer.from(fields.map((f) => `${f}\0`).join(''));
  const header = Buffer.alloc(64);
  const dataAt = 64;
  const shoff = dataAt + shstrtab.length + modinfo.length;
  header.writeUInt32BE(0x7f454c46, 0);
  header[4] = 2; // ELFCLASS64
  header[5] = 1; // little-endian
  header.writeBigUInt64LE(BigInt(shoff), 0x28);
  header.writeUInt16LE(64, 0x3a);
  header.writeUInt16LE(3, 0x3c);
  header.writeUInt16LE(1, 0x3e);
  const section = (name: number, offset: number, size: number): Buffer => {
    const s = Buffer.alloc(64);
    s.writeUInt32LE(name, 0);
    s.writeBigUInt64LE(BigInt(offset), 0x18);
    s.writeBigUInt64LE(BigInt(size), 0x20);
    return s;
  };
  return Buffer.concat([header, shstrtab, modinfo,
    section(0, 0, 0), section(1, dataAt, shstrtab.length), section(11, dataAt + shstrtab.length, modinfo.length)]);
}

const mod = (name: string, over: Partial<ModuleInfo> = {}): ModuleInfo =>
  ({ name, file: `/k/kernel/${name}.ko`, depends: [], aliases: [], softPre: [], softPost: [], ...over });
const index = (...mods: ModuleInfo[]): Map<string, ModuleInfo> => new Map(mods.map((m) => [m.name, m]));

test('a module\'s .modinfo gives its dependencies, aliases and soft dependencies', () => {
  const elf = elfWithModinfo(['license=GPL', 'alias=nfnetlink-subsys-10', 'alias=nft-chain-*', 'depends=nfnetlink,lib-crc', 'softdep=pre: crc32c post: nf_log', 'name=nf_tables']);
  const fields = modinfoFields(elf, 'module t');
  assert.deepEqual(fields.find(([k]) => k === 'depends'), ['depends', 'nfnetlink,lib-crc']);
  const info = moduleInfo('nf_tables', '/k/nf_tables.ko', fields);
  assert.deepEqual(info.aliases, ['nfnetlink-subsys-10', 'nft-chain-*']);
  assert.deepEqual(info.depends, ['nfnetlink', 'lib_crc'], 'dependency names are spelled with _');
  assert.deepEqual([info.softPre, info.softPost], [['crc32c'], ['nf_log']]);
  assert.throws(() => modinfoFields(Buffer.from('not an elf, just some text long enough to have a header of 64 bytes......'), 'module x'), /not an ELF64/);
});

test('alias globs become anchored extended regular expressions', () => {
  assert.equal(globToRegex('rtnl-link-dummy'), '^rtnl-link-dummy$');
  assert.equal(globToRegex('nft-expr-*'), '^nft-expr-.*$');
  assert.equal(globToRegex('pci:v*d[0-9]?sv[!x]*'), '^pci:v.*d[0-9].sv[^x].*$');
  assert.equal(globToRegex('a.b+c(d)|e$^'), '^a\\.b\\+c\\(d\\)\\|e\\$\\^$');
  assert.ok(new RegExp(globToRegex('devname:net/tun')).test('devname:net/tun'));
  assert.ok(!new RegExp(globToRegex('nft-expr-*')).test('xnft-expr-ct'));
});

test('the load order puts dependencies first, soft ones optional, and survives cycles', () => {
  const all = index(
    mod('nf_tables', { depends: ['nfnetlink', 'libcrc32c'] }),
    mod('nfnetlink'),
    mod('libcrc32c', { softPre: ['crc32c'] }),
    mod('crc32c_intel', { aliases: ['crc32c', 'crypto-crc32c'] }),
    mod('crc32c_generic', { aliases: ['crc32c'] }),
    mod('nft_ct', { depends: ['nf_tables', 'nf_conntrack'] }),
    mod('nf_conntrack', { depends: ['nf_defrag'], softPost: ['nf_log'] }),
    mod('nf_defrag', { depends: ['nf_conntrack'] }),
    mod('nf_log'),
  );
  assert.deepEqual(loadOrder('nf_tables', all), ['nfnetlink', '?crc32c_intel', '?crc32c_generic', 'libcrc32c', 'nf_tables']);
  assert.deepEqual(loadOrder('nft_ct', all), ['nfnetlink', '?crc32c_intel', '?crc32c_generic', 'libcrc32c', 'nf_tables', 'nf_defrag', 'nf_conntrack', '?nf_log', 'nft_ct']);
  assert.deepEqual(loadOrder('absent', all), []);
});

test('the selection takes whole directories or single modules, and brings their dependencies along', () => {
  const all = index(
    mod('dummy', { file: '/k/kernel/drivers/net/dummy.ko', aliases: ['rtnl-link-dummy'] }),
    mod('bridge', { file: '/k/kernel/net/bridge/bridge.ko', depends: ['stp'], aliases: ['rtnl-link-bridge'] }),
    mod('stp', { file: '/k/kernel/net/802/stp.ko' }),
    mod('e1000', { file: '/k/kernel/drivers/net/ethernet/e1000.ko', aliases: ['pci:v00008086d*'] }),
    mod('dummy_hcd', { file: '/k/kernel/drivers/usb/dummy_hcd.ko' }),
  );
  const chosen = closure(all, '/k/kernel', ['net/bridge/', 'drivers/net/dummy']);
  assert.deepEqual([...chosen.keys()].sort(), ['bridge', 'dummy', 'stp']);
  const tables = moduleTables(chosen);
  assert.equal(tables.aliases, '^rtnl-link-bridge$ bridge\n^rtnl-link-dummy$ dummy\n');
  assert.equal(tables.loadOrder, 'bridge stp bridge\ndummy dummy\nstp stp\n');
});
