/**
 * The cluster's own certificate authority, made with the openssl command: a CA, a serving certificate for
 * 127.0.0.1/localhost (and any further addresses the server listens on), and an admin client certificate, plus a
 * random bearer token. Kept under one directory; made once and reused, so kubeconfigs stay valid across restarts
 * (the serving certificate is made again, by the same CA, when the server gets an address it does not name).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { internal } from '../errors.js';

export interface Pki {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  tokenFile: string;
}

export function pkiPaths(dir: string): Pki {
  return {
    dir,
    caCert: join(dir, 'ca.crt'),
    serverCert: join(dir, 'apiserver.crt'),
    serverKey: join(dir, 'apiserver.key'),
    clientCert: join(dir, 'admin.crt'),
    clientKey: join(dir, 'admin.key'),
    tokenFile: join(dir, 'admin.token'),
  };
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim() ?? '';
    throw internal(`pki ${cwd}`, `openssl ${args[0] ?? ''} failed: ${stderr || (err as Error).message}; is the openssl package installed?`, err);
  }
}

const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function signedCert(dir: string, name: string, subject: string, extensions: string): void {
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, extensions);
  openssl(['req', ...ecKey, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], dir);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', `0x${randomBytes(8).toString('hex')}`,
    '-days', '825', '-out', `${name}.crt`, '-extfile', ext], dir);
}

/** The IP addresses a certificate names in its subjectAltName. */
function certificateIps(cert: string, dir: string): string[] {
  try {
    const text = execFileSync('openssl', ['x509', '-in', cert, '-noout', '-ext', 'subjectAltName'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
    return [...text.matchAll(/IP Address:([0-9.]+)/g)].map((m) => m[1]!);
  } catch {
    return [];
  }
}

/**
 * Creates whatever part of the PKI is missing in `dir` and returns its paths. `serverIps` are addresses besides
 * 127.0.0.1 the API server is reached at; a serving certificate that lacks one is made again.
 */
export function ensurePki(dir: string, serverIps: readonly string[] = []): Pki {
  const p = pkiPaths(dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!existsSync(p.caCert)) {
    openssl(['req', '-x509', ...ecKey, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '3650', '-subj', '/CN=sandpod-ca',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature'], dir);
  }
  const ips = ['127.0.0.1', ...serverIps.filter((ip) => ip !== '127.0.0.1')];
  if (!existsSync(p.serverCert) || ips.some((ip) => !certificateIps(p.serverCert, dir).includes(ip))) {
    signedCert(dir, 'apiserver', '/CN=sandpod-apiserver',
      `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${ips.map((ip) => `IP:${ip}`).join(',')},DNS:localhost\n`);
  }
  if (!existsSync(p.clientCert)) {
    signedCert(dir, 'admin', '/O=system:masters/CN=sandpod-admin',
      'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n');
  }
  if (!existsSync(p.tokenFile)) writeFileSync(p.tokenFile, randomBytes(24).toString('hex') + '\n', { mode: 0o600 });
  return p;
}

export const readToken = (p: Pki): string => readFileSync(p.tokenFile, 'utf8').trim();
