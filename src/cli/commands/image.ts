/**
 * `sandpod image build <name>` writes one of Sandpod's OCI image archives (cached) and prints its path;
 * `sandpod image push <archive>` puts an OCI archive into a registry, by default the local cluster's.
 */
import { copyFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Cluster, ClusterStore, describeCluster, LOCAL_RESOURCE_GROUP } from '../../cluster/index.js';
import { failedPrecondition } from '../../errors.js';
import { LAB_IMAGES, pushOciArchive, type ImageArchive } from '../../images/index.js';
import { checkoutPayload, installerImageArchive } from '../../install/index.js';
import type { SandpodPaths } from '../../paths.js';
import { cliLogger, parse, pathsFrom, runSubcommand, UsageError } from '../options.js';
import { progressPrinter } from '../progress.js';

/** Images built by name: the lab's, and the installer of `sandpod manifests` (the node payload of this build). */
const builders: Record<string, (paths: SandpodPaths) => Promise<ImageArchive>> = {
  ...Object.fromEntries(Object.entries(LAB_IMAGES).map(([name, image]) => [name, image.build])),
  installer: (paths) => installerImageArchive(paths, () => checkoutPayload(paths)),
};
const names = Object.keys(builders).join('|');

export const imageUsage = `usage: sandpod image <build|push> [options]
  build <${names}> [--output FILE]
           build an image from this machine's Debian packages (cached) and print the OCI archive's path;
           with --output, copy the archive to FILE
  push <oci-archive> [--registry URL] [--name REF] [--cluster NAME] [--resource-group GROUP]
           push an OCI archive to a registry (default: the running cluster default's), under REF or the name
           the archive carries; a name without a registry host is Docker Hub's (busybox is
           docker.io/library/busybox:latest), which the local cluster's containerd pulls from this registry`;

async function build(argv: string[]): Promise<number> {
  const { values, positionals } = parse('image build', argv, { output: { type: 'string', short: 'o' } });
  if (values.help) { process.stdout.write(`${imageUsage}\n`); return 0; }
  const [name, ...extra] = positionals;
  if (name === undefined || extra.length > 0) throw new UsageError(`sandpod image build: name exactly one image (${names})`);
  const builder = builders[name];
  if (!builder) throw new UsageError(`sandpod image build: unknown image "${name}"; Sandpod builds ${names}`);
  const progress = progressPrinter();
  progress(`building the ${name} image`);
  const image = await builder(pathsFrom(values));
  let archive = image.archive;
  if (values.output) {
    archive = resolve(values.output);
    await copyFile(image.archive, archive);
  }
  progress(`${image.name} is in ${archive}`);
  process.stdout.write(`${archive}\n`);
  return 0;
}

/** The URL of the cluster's registry, or a FailedPrecondition saying why there is none. */
async function runningRegistry(paths: SandpodPaths, name: string | undefined, group: string | undefined): Promise<string> {
  const store = new ClusterStore(paths);
  const id = Cluster.idOf(group ?? LOCAL_RESOURCE_GROUP, name ?? 'default');
  const object = describeCluster(id);
  if (!store.get(id)) throw failedPrecondition(object, `no registry is running: ${object} does not exist; start it with "sandpod up" (or "sandpod create"), or pass --registry URL`);
  const url = await Cluster.open(store, id).registryUrl();
  if (url) return url;
  throw failedPrecondition(object, `no registry is running: ${object} is stopped or its registry is down ("sandpod status" says which); start it with "sandpod up" or "sandpod start", or pass --registry URL`);
}

async function push(argv: string[]): Promise<number> {
  const { values, positionals } = parse('image push', argv, { registry: { type: 'string' }, name: { type: 'string' }, cluster: { type: 'string' }, 'resource-group': { type: 'string', short: 'g' } });
  if (values.help) { process.stdout.write(`${imageUsage}\n`); return 0; }
  const [archive, ...extra] = positionals;
  if (archive === undefined || extra.length > 0) throw new UsageError('sandpod image push: name exactly one OCI archive (sandpod image build prints one)');
  const registry = values.registry ?? (await runningRegistry(pathsFrom(values), values.cluster, values['resource-group']));
  if (!/^https?:\/\/[^/]+\/?$/.test(registry)) throw new UsageError(`sandpod image push: --registry must be a URL like http://127.0.0.1:5000, not "${registry}"`);
  const progress = progressPrinter();
  progress(`pushing ${archive} to ${registry}`);
  const result = await pushOciArchive(resolve(archive), registry.replace(/\/$/, ''), values.name, { logger: cliLogger('image') });
  progress(`uploaded ${result.uploaded.length} blobs, ${result.skipped.length} were there already`);
  process.stdout.write(`${result.reference} ${result.digest} ${result.manifestUrl}\n`);
  return 0;
}

export const image = (argv: string[]): Promise<number> => runSubcommand('image', imageUsage, { build, push }, argv);
