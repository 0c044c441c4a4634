// The lab itself: namespaces, the hub segment and the teardown that every later
// functional test relies on. Real kernel hosts, real bridge, real TAP devices.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { Lab, listNamespaces } from '../../control/lab.js';
import { BatonError } from '../../control/errors.js';

test.before(() => {
  // Fail loudly, never skip: the functional suite needs root for namespaces.
  assert.is(process.getuid?.(), 0, 'functional tests must run as root (CI does)');
});

test('lab up builds clients that reach each other across the segment, down removes everything', () => {
  const lab = Lab.up({ name: 'tlab1', clients: 2, nodes: ['tap', 'veth', 'none'], hub: true });
  try {
    assert.is(lab.clients.length, 2);
    assert.is(lab.nodes.length, 3);
    const out = lab.exec(lab.clients[0]!.ns, ['ping', '-c', '2', '-i', '0.2', '-W', '2', lab.clients[1]!.ip]);
    assert.match(out, /2 received/);
    const links = lab.exec(lab.segNs, ['ip', '-o', 'link', 'show', 'master', 'br0']);
    assert.match(links, /n1tap/);
    assert.match(links, /n2port/);
    const tap = lab.exec(lab.segNs, ['ip', '-d', 'link', 'show', 'n1tap']);
    assert.match(tap, /multi_queue/);
    assert.match(tap, /vnet_hdr/);
    const br = lab.exec(lab.segNs, ['ip', '-d', 'link', 'show', 'br0']);
    assert.match(br, /ageing_time 0 /);
  } finally {
    lab.down();
  }
  assert.equal(listNamespaces(Lab.prefix('tlab1')), []);
});

test('a failed build removes what it had built', () => {
  // 'toolong' is rejected before anything is built; a clash is rejected after a probe.
  assert.throws(() => Lab.up({ name: 'toolong7', clients: 1, nodes: [], hub: false }), (e: unknown) => e instanceof BatonError);
  const a = Lab.up({ name: 'tlab2', clients: 1, nodes: [], hub: false });
  try {
    assert.throws(() => Lab.up({ name: 'tlab2', clients: 1, nodes: [], hub: false }), /already exists/);
  } finally {
    a.down();
  }
  // A namespace left by a crashed run is found and removed by name.
  execFileSync('ip', ['netns', 'add', `${Lab.prefix('tlab3')}c9`]);
  assert.equal(Lab.remove('tlab3'), [`${Lab.prefix('tlab3')}c9`]);
  assert.equal(listNamespaces('bttlab'), []);
});

test.run();
