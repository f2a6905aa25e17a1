/**
 * The installer image (`sandpod image build installer`), like kata-deploy's: a busybox userland, the
 * `sandpod` command as one module, the payload `node install` puts on a node (the shim and the guest image),
 * and an entrypoint that copies the command and payload onto the node and runs `sandpod node install`
 * there, in the node's namespaces and with the node's own Node.js (which the shim needs anyway).
 */
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { notFound } from '../errors.js';
import { busyboxRootfs, cachedArchive, contentKey, writeOciArchive, type ImageArchive } from '../images/index.js';
import { imageCacheDir, type SandpodPaths } from '../paths.js';
import { INSTALLER_IMAGE } from './manifests.js';
import { payloadVersion, writePayload, type PayloadSource } from './payload.js';
import { NODE_HINT } from './probe.js';

/** dist/cli-bundle/sandpod.mjs: the command as one module (scripts/build). */
export const builtCliBundle = (): string => fileURLToPath(new URL('../../cli-bundle/sandpod.mjs', import.meta.url));

/**
 * The entrypoint. SANDPOD_ACTION install (default) or uninstall; SANDPOD_HOST_ROOT (/host) is the node's root
 * as mounted; SANDPOD_ENTER runs a command in the node's namespaces (nsenter into PID 1's, which hostPID
 * makes the node's init); SANDPOD_PREFIX is the install prefix on the node; SANDPOD_ONESHOT=1 exits when
 * done instead of sleeping (a DaemonSet's pod must stay up).
 */
export function entrypointScript(): string {
  return `#!/bin/sh
set -eu
host=\${SANDPOD_HOST_ROOT:-/host}
enter=\${SANDPOD_ENTER:-nsenter --target 1 --mount --uts --ipc --net --pid --}
prefix=\${SANDPOD_PREFIX:-/opt/sandpod}
action=\${SANDPOD_ACTION:-install}
version=$(cat /sandpod/VERSION)
stage=$prefix/installer/$version
echo "sandpod-installer $version on \${NODE_NAME:-this node}: $action"
if ! cmp -s /sandpod/VERSION "$host$stage/VERSION" 2>/dev/null; then
  mkdir -p "$host$stage"
  cp -a /sandpod/sandpod.mjs /sandpod/payload "$host$stage/"
  cp /sandpod/VERSION "$host$stage/VERSION"
fi
node=$($enter sh -c 'command -v node' || true)
if [ -z "$node" ]; then
  echo "sandpod-installer: no Node.js on this node: ${NODE_HINT}" >&2
  exit 1
fi
if [ "$action" = uninstall ]; then
  $enter "$node" "$stage/sandpod.mjs" node uninstall --prefix "$prefix"
  rm -rf "$host$prefix/installer"
else
  $enter "$node" "$stage/sandpod.mjs" node install --prefix "$prefix" --from "$stage/payload" "$@"
fi
[ "\${SANDPOD_ONESHOT:-0}" = 1 ] && exit 0
echo "sandpod-installer: done; waiting (delete the DaemonSet when every node is done)"
while :; do sleep 3600; done
`;
}

/** The installer image for this build's payload, cached by its version and the command bundle. */
export async function installerImageArchive(paths: SandpodPaths, payload: () => Promise<PayloadSource>): Promise<ImageArchive> {
  const src = await payload();
  const version = await payloadVersion(src);
  const cli = await readFile(builtCliBundle()).catch((err: unknown) => { throw notFound('installer-image', `no command bundle at ${builtCliBundle()}; build Sandpod with scripts/build`, err); });
  const name = `${INSTALLER_IMAGE}:${version}`;
  const key = contentKey([name, cli, entrypointScript()]);
  const archive = await cachedArchive(imageCacheDir(paths), 'sandpod-installer', key, async (out, scratch) => {
    const rootfs = await busyboxRootfs(join(scratch, 'rootfs'));
    const dir = join(rootfs, 'sandpod');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'sandpod.mjs'), cli);
    await writeFile(join(dir, 'VERSION'), `${version}\n`);
    await writeFile(join(dir, 'entrypoint'), entrypointScript());
    await chmod(join(dir, 'entrypoint'), 0o755);
    // The wrapper written here is replaced on the node, for the node's Node.js.
    await writePayload(src, join(dir, 'payload'), version, '/usr/bin/node', 'auto');
    await writeOciArchive(rootfs, { name, cmd: [], entrypoint: ['/sandpod/entrypoint'] }, out);
  });
  return { name, archive };
}
