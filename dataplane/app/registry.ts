// The built-in TCP applications by the name a service's `app` gives them.
// (udp-reflect is not here: it is a datagram service inside the worker.)
import type { AppFactory } from './api.js';
import { chargen } from './chargen.js';
import { discard } from './discard.js';
import { echo } from './echo.js';
import { http } from './http.js';

export const TCP_APP_NAMES = ['echo', 'discard', 'chargen', 'http'] as const;
export type TcpAppName = (typeof TCP_APP_NAMES)[number];

const factories: { readonly [K in TcpAppName]: AppFactory } = { echo, discard, chargen, http };

export function isTcpAppName(name: string): name is TcpAppName {
  return (TCP_APP_NAMES as readonly string[]).includes(name);
}

/** The factory for a built-in application. */
export function appFactory(name: TcpAppName): AppFactory {
  return factories[name];
}
