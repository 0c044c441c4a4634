// discard (RFC 863 over TCP): reads and drops everything; closes when the peer does.
import type { AppFactory, AppSocket, TcpApplication } from './api.js';
import { checkOptionKeys } from './options.js';

function attach(socket: AppSocket): void {
  socket.on('data', () => {});
  socket.on('end', () => socket.end());
}

export const discard: AppFactory = (options) => {
  checkOptionKeys(options, []);
  const app: TcpApplication = { name: 'discard', accept: attach, resume: attach };
  return app;
};
