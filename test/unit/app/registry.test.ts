import { tmpdir } from 'node:os';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TCP_APP_NAMES, appFactory, isTcpAppName } from '../../../dataplane/app/registry.js';

test('every registered name builds an application of that name', () => {
  for (const name of TCP_APP_NAMES) {
    const app = appFactory(name)(name === 'http' ? { root: tmpdir() } : {});
    assert.is(app.name, name);
    assert.type(app.accept, 'function');
    assert.type(app.resume, 'function');
  }
});

test('udp-reflect and unknown names are not TCP applications', () => {
  assert.not.ok(isTcpAppName('udp-reflect'));
  assert.not.ok(isTcpAppName('ftp'));
  assert.ok(isTcpAppName('http'));
});

test.run();
