// echo (RFC 862 over TCP): every byte received is written back.
//
// Backpressure: when write() returns false the socket is paused inside the
// data handler, which leaves that chunk unconsumed — it will be delivered
// again after resume(). The bytes were already written, so `state` keeps how
// many bytes at the head of the unconsumed receive data are already echoed
// (`skip`), and the redelivery skips them. `skip` is all the state there is,
// so a connection that moves continues with nothing lost or repeated.
import type { AppFactory, AppSocket, TcpApplication } from './api.js';
import { checkOptionKeys } from './options.js';
import { consumeSkip, setSkip } from './skip.js';

function attach(socket: AppSocket): void {
  socket.on('data', (chunk) => {
    const from = consumeSkip(socket.state, chunk.length);
    if (from === chunk.length) return;
    if (!socket.write(from === 0 ? chunk : chunk.subarray(from))) {
      setSkip(socket.state, chunk.length);
      socket.pause();
    }
  });
  socket.on('drain', () => socket.resume());
  socket.on('end', () => socket.end());
}

export const echo: AppFactory = (options) => {
  checkOptionKeys(options, []);
  const app: TcpApplication = { name: 'echo', accept: attach, resume: attach };
  return app;
};
