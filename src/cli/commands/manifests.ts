/**
 * `sandpod manifests`: the RuntimeClasses and the installer DaemonSet (with its namespace and service
 * account) for a real cluster, as one YAML stream for `kubectl apply -f -`.
 */
import { checkoutPayload, DEFAULT_HANDLER, INSTALLER_IMAGE, installerObjects, manifestsYaml, payloadVersion, runtimeClasses } from '../../install/index.js';
import { parse, pathsFrom, UsageError } from '../options.js';

const usage = `usage: sandpod manifests [--handler NAME] [--image REF] [--runtime-classes] [-- INSTALL_ARGS…]
  print the RuntimeClasses vm-isolation, kata-vm-isolation and kata-mshv-vm-isolation (handler ${DEFAULT_HANDLER},
  on nodes labelled kubernetes.azure.com/kata-vm-isolation=true, with a VM pod's measured overhead) and the
  installer DaemonSet that runs \`sandpod node install INSTALL_ARGS…\` on those nodes from the installer image
  (default: ${INSTALLER_IMAGE}:<this build's version>, made by \`sandpod image build installer\`);
  --runtime-classes prints the RuntimeClasses only`;

export default async function manifests(argv: string[]): Promise<number> {
  const { values, positionals } = parse('manifests', argv, { handler: { type: 'string' }, image: { type: 'string' }, 'runtime-classes': { type: 'boolean' } });
  if (values.help) { process.stdout.write(`${usage}\n`); return 0; }
  const handler = values.handler ?? DEFAULT_HANDLER;
  if (!/^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$/.test(handler)) throw new UsageError(`sandpod manifests: --handler "${handler}" is not a DNS label`);
  const objects = runtimeClasses(handler);
  if (!values['runtime-classes']) {
    const image = values.image ?? `${INSTALLER_IMAGE}:${await payloadVersion(await checkoutPayload(pathsFrom(values)))}`;
    objects.push(...installerObjects({ handler, image, installArgs: positionals }));
  }
  process.stdout.write(manifestsYaml(objects));
  return 0;
}
