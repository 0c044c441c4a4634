// The kernel-stack reference server for the TCP benchmarks: Node's http
// module over the kernel's TCP, serving files from a directory (GET only,
// keep-alive as the client asks). Run inside a lab namespace:
//   node dist/bench/kernel-http.js ADDRESS PORT DIR
import { createServer } from 'node:http';
import { createReadStream, statSync } from 'node:fs';
import { join, normalize } from 'node:path';

const [address, portText, dir] = process.argv.slice(2);
if (address === undefined || portText === undefined || dir === undefined) {
  process.stderr.write('usage: kernel-http ADDRESS PORT DIR\n');
  process.exit(2);
}
const server = createServer((req, res) => {
  const path = normalize(join(dir, decodeURIComponent((req.url ?? '/').split('?')[0]!)));
  if (!path.startsWith(dir)) {
    res.writeHead(400).end();
    return;
  }
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    res.writeHead(404, { 'content-length': 0 }).end();
    return;
  }
  res.writeHead(200, { 'content-length': size, 'content-type': 'application/octet-stream' });
  createReadStream(path, { highWaterMark: 1 << 20 }).pipe(res);
});
server.keepAliveTimeout = 5000;
server.listen(Number(portText), address, () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => process.exit(0));
