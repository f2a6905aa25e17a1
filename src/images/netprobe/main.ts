/**
 * netprobe: the small network client and server the netprobe image runs (with the Node.js it carries), for the
 * NetworkPolicy tests and bench/netpol — what agnhost's `serve-hostname` and `connect` are to the upstream suite.
 * It stands alone (Node's built-in modules only): the image holds this one file.
 *
 *   netprobe serve [--tcp 80,81] [--udp 80,81] [--sink 5001] [--control 5002]
 *       answers `<hostname>\n` on each TCP port and echoes each UDP datagram; the sink port reads a stream to its end
 *       and answers with the number of bytes it read; the control port (HTTP on 127.0.0.1 only, so only the pod
 *       itself reaches it) runs probes from this process: `GET /probe?timeout=MS&target=tcp:IP:PORT&target=…`
 *       answers what `netprobe probe` prints. A test then runs busybox `wget` in the pod, not a second Node.js,
 *       which costs seconds in a VM without hardware virtualization.
 *   netprobe probe [--timeout MS] tcp:IP:PORT|udp:IP:PORT …
 *       tries every target at once; prints {"<target>": true|false, …}: true when it answered within the timeout
 *   netprobe latency --target IP:PORT [--count N] [--timeout MS]
 *       N TCP connects one after another, each until the server's first byte; prints {"ms": [...], "failed": n}
 *   netprobe throughput --target IP:PORT [--bytes N]
 *       sends N bytes to a sink and waits for its count; prints {"bytes": n, "ms": t}
 *   netprobe watch --target tcp:IP:PORT --until open|closed [--interval MS] [--timeout MS] [--deadline MS]
 *       prints {"ready": epoch-ms} once a probe saw the target in the other state (the one before the change), then
 *       probes until it is in that state; prints {"at": epoch-ms of the first later probe that saw it, "probes": n}
 */
import { createServer as createHttpServer } from 'node:http';
import { createServer, connect, type Socket } from 'node:net';
import { createSocket } from 'node:dgram';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';

type Target = { protocol: 'tcp' | 'udp'; host: string; port: number };

function target(text: string): Target {
  const m = /^(tcp|udp):([0-9.]+):(\d+)$/.exec(text) ?? /^()([0-9.]+):(\d+)$/.exec(text);
  if (!m) throw new Error(`netprobe: "${text}" is not tcp:IP:PORT, udp:IP:PORT or IP:PORT`);
  return { protocol: m[1] === 'udp' ? 'udp' : 'tcp', host: m[2]!, port: Number(m[3]) };
}

const numbers = (text: string | undefined): number[] => (text ?? '').split(',').filter((s) => s !== '').map(Number);

function serve(values: { tcp?: string; udp?: string; sink?: string; control?: string }): void {
  const name = `${hostname()}\n`;
  for (const port of numbers(values.tcp ?? '80,81')) {
    createServer((s) => { s.on('error', () => undefined); s.end(name); }).listen(port);
  }
  for (const port of numbers(values.udp ?? '80,81')) {
    const sock = createSocket('udp4');
    sock.on('message', (msg, from) => sock.send(msg, from.port, from.address));
    sock.bind(port);
  }
  for (const port of numbers(values.sink)) {
    createServer((s) => {
      let n = 0;
      s.on('data', (d: Buffer) => { n += d.length; });
      s.on('end', () => s.end(`${n}\n`));
      s.on('error', () => undefined);
    }).listen(port);
  }
  for (const port of numbers(values.control)) {
    createHttpServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const answer = (code: number, body: unknown): void => { res.writeHead(code, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`); };
      if (url.pathname !== '/probe') return answer(404, { error: `netprobe: no ${url.pathname}; GET /probe?timeout=MS&target=…` });
      let targets: Target[];
      try { targets = url.searchParams.getAll('target').map(target); } catch (err) { return answer(400, { error: (err as Error).message }); }
      void probeAll(url.searchParams.getAll('target'), targets, Number(url.searchParams.get('timeout') ?? 1000)).then((r) => answer(200, r));
    }).listen(port, '127.0.0.1');
  }
}

/** A TCP connect that resolves with the time until the server's first byte, or undefined on timeout or refusal. */
function tcpTry(t: Target, timeoutMs: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const s: Socket = connect({ host: t.host, port: t.port });
    const done = (v: number | undefined): void => { clearTimeout(timer); s.destroy(); resolve(v); };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    s.once('data', () => done(Number(process.hrtime.bigint() - started) / 1e6));
    s.once('error', () => done(undefined));
  });
}

function udpTry(t: Target, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createSocket('udp4');
    const done = (v: boolean): void => { clearTimeout(timer); clearInterval(again); sock.close(); resolve(v); };
    const timer = setTimeout(() => done(false), timeoutMs);
    const send = (): void => sock.send('probe', t.port, t.host);
    // A datagram can be lost on its own: three tries within the timeout.
    const again = setInterval(send, Math.max(50, Math.floor(timeoutMs / 3)));
    sock.on('message', () => done(true));
    sock.on('error', () => done(false));
    send();
  });
}

const attempt = async (t: Target, timeoutMs: number): Promise<boolean> =>
  (t.protocol === 'tcp' ? (await tcpTry(t, timeoutMs)) !== undefined : udpTry(t, timeoutMs));

/** Every target tried at once: {"<target as given>": true|false, …}. */
async function probeAll(texts: string[], targets: Target[], timeoutMs: number): Promise<Record<string, boolean>> {
  const results = await Promise.all(targets.map((t) => attempt(t, timeoutMs)));
  return Object.fromEntries(texts.map((text, i) => [text, results[i]!]));
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  const { values, positionals } = parseArgs({
    args: rest, allowPositionals: true,
    options: {
      tcp: { type: 'string' }, udp: { type: 'string' }, sink: { type: 'string' }, control: { type: 'string' }, timeout: { type: 'string' }, target: { type: 'string' },
      count: { type: 'string' }, bytes: { type: 'string' }, until: { type: 'string' }, interval: { type: 'string' }, deadline: { type: 'string' },
    },
  });
  const timeoutMs = Number(values.timeout ?? 1000);
  const out = (v: unknown): void => { process.stdout.write(`${JSON.stringify(v)}\n`); };
  switch (command) {
    case 'serve':
      return serve(values);
    case 'probe':
      return out(await probeAll(positionals, positionals.map(target), timeoutMs));
    case 'latency': {
      const t = target(values.target ?? '');
      const ms: number[] = [];
      let failed = 0;
      for (let i = 0; i < Number(values.count ?? 100); i++) {
        const v = await tcpTry(t, timeoutMs);
        if (v === undefined) failed++;
        else ms.push(v);
      }
      return out({ ms, failed });
    }
    case 'throughput': {
      const t = target(values.target ?? '');
      const total = Number(values.bytes ?? 64 * 2 ** 20);
      const chunk = Buffer.alloc(64 * 1024, 7);
      const started = process.hrtime.bigint();
      const counted = await new Promise<string>((resolve, reject) => {
        const s = connect({ host: t.host, port: t.port }, () => {
          let sent = 0;
          const pump = (): void => {
            while (sent < total) {
              const n = Math.min(chunk.length, total - sent);
              sent += n;
              if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void s.once('drain', pump);
            }
            s.end();
          };
          pump();
        });
        let answer = '';
        s.on('data', (d: Buffer) => { answer += d.toString(); });
        s.on('end', () => resolve(answer.trim()));
        s.on('error', reject);
      });
      return out({ bytes: Number(counted), ms: Number(process.hrtime.bigint() - started) / 1e6 });
    }
    case 'watch': {
      const t = target(values.target ?? '');
      const want = values.until === 'open';
      const deadline = Date.now() + Number(values.deadline ?? 30_000);
      const interval = Number(values.interval ?? 20);
      let probes = 0;
      const inFlight = new Set<Promise<void>>();
      // The caller makes its change once told `ready`: a probe that saw the state before it. Only probes started
      // after that one count, so the answer never predates the change.
      let ready: number | undefined;
      let seen: number | undefined;
      // Probes start every `interval` ms whatever the ones before are doing, so a timeout does not blur the moment.
      while (seen === undefined && Date.now() < deadline) {
        const at = Date.now();
        probes++;
        const p: Promise<void> = attempt(t, timeoutMs).then((ok) => {
          if (ok !== want && ready === undefined) {
            ready = at;
            out({ ready });
          } else if (ok === want && ready !== undefined && at > ready && (seen === undefined || at < seen)) seen = at;
          inFlight.delete(p);
        });
        inFlight.add(p);
        await new Promise((r) => setTimeout(r, interval));
      }
      await Promise.all(inFlight);
      return out({ at: seen ?? null, probes });
    }
    default:
      throw new Error(`netprobe: unknown command "${command ?? ''}"; expected serve, probe, latency, throughput or watch`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
