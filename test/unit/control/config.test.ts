import { tmpdir } from 'node:os';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { validateConfig, defaultMac } from '../../../control/config.js';
import { ConfigError } from '../../../control/errors.js';

const base = () => ({ node: { id: 1 }, port: { driver: 'tap:n1tap' }, addresses: ['198.18.0.1/24'] });

function rejects(raw: unknown, path: string, msg: RegExp): void {
  try {
    validateConfig(raw);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    assert.is((e as ConfigError).path, path);
    assert.is((e as ConfigError).code, 'BATON_ERR_CONFIG');
    assert.match((e as Error).message, msg);
    return;
  }
  assert.unreachable(`config accepted; expected an error at ${path}`);
}

test('a minimal config is completed with defaults', () => {
  const c = validateConfig(base());
  assert.is(c.node.name, 'n1');
  assert.equal(c.port, { kind: 'tap', target: 'n1tap', mac: defaultMac(1), queues: 1, promiscuous: false, offload: true, spinUs: 0 });
  assert.equal(c.addresses, [{ ip: 0xc6120001, prefixLen: 24, text: '198.18.0.1/24' }]);
  assert.is(c.workers, 1);
  assert.is(c.pool.slots, 8192);
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.port));
});

test('dpdk driver keeps the EAL device arguments', () => {
  const c = validateConfig({ ...base(), port: { driver: 'dpdk:--vdev=net_tap0,iface=dtap0' } });
  assert.is(c.port.kind, 'dpdk');
  assert.is(c.port.target, '--vdev=net_tap0,iface=dtap0');
});

test('unknown key at the top names the key', () => rejects({ ...base(), wrokers: 2 }, 'wrokers', /unknown key/));
test('unknown key inside port names the path', () => rejects({ ...base(), port: { driver: 'tap:x', speed: 1 } }, 'port.speed', /unknown key/));
test('missing node', () => rejects({ port: { driver: 'tap:x' }, addresses: ['198.18.0.1'] }, 'node', /missing/));
test('bad driver kind', () => rejects({ ...base(), port: { driver: 'pcap:x' } }, 'port.driver', /tap:<ifname>/));
test('interface name too long', () => rejects({ ...base(), port: { driver: 'tap:abcdefghijklmnop' } }, 'port.driver', /interface name/));
test('empty dpdk args', () => rejects({ ...base(), port: { driver: 'dpdk: ' } }, 'port.driver', /EAL device arguments/));
test('bad address', () => rejects({ ...base(), addresses: ['198.18.0.1/24', '198.18.300.1'] }, 'addresses[1]', /bad IPv4/));
test('bad prefix', () => rejects({ ...base(), addresses: ['198.18.0.1/33'] }, 'addresses[0]', /prefix/));
test('multicast address refused', () => rejects({ ...base(), addresses: ['224.0.0.1'] }, 'addresses[0]', /unicast/));
test('no addresses', () => rejects({ ...base(), addresses: [] }, 'addresses', /non-empty/));
test('multicast MAC refused', () => rejects({ ...base(), port: { driver: 'tap:x', mac: '01:00:5e:00:00:01' } }, 'port.mac', /multicast/));
test('malformed MAC refused', () => rejects({ ...base(), port: { driver: 'tap:x', mac: '02:00:00:00:00' } }, 'port.mac', /xx:xx/));
test('ring size must be a power of two', () => rejects({ ...base(), rings: { rx: 1000 } }, 'rings.rx', /power of two/));
test('pool too small for the rings', () => rejects({ ...base(), workers: 4, pool: { slots: 4096 } }, 'pool.slots', /cannot fill/));
test('workers out of range', () => rejects({ ...base(), workers: 0 }, 'workers', /whole number/));
test('services: udp-reflect with a port range', () => {
  const c = validateConfig({ ...base(), services: [{ app: 'udp-reflect', ports: [9, 9] }] });
  assert.equal(c.services, [{ app: 'udp-reflect', ports: [9, 9], address: null, options: {}, mode: 'plain' }]);
});
test('services: snoop and mirror are for TCP applications in a cluster; snoop makes the port promiscuous', () => {
  rejects({ ...base(), services: [{ app: 'echo', ports: 7, mode: 'snoop' }] }, 'services[0].mode', /needs a cluster/);
  rejects({ ...base(), services: [{ app: 'udp-reflect', ports: 9, mode: 'mirror' }] }, 'services[0].mode', /TCP applications/);
  rejects({ ...base(), services: [{ app: 'echo', ports: 7, mode: 'tap' }] }, 'services[0].mode', /"plain", "snoop" or "mirror"/);
  const cluster = { peers: [2], key: '00112233445566778899aabbccddeeff' };
  const c = validateConfig({ ...base(), services: [{ app: 'echo', ports: 7, mode: 'snoop' }], cluster });
  assert.is(c.port.promiscuous, true);
  assert.is(validateConfig({ ...base(), services: [{ app: 'echo', ports: 7, mode: 'mirror' }], cluster }).port.promiscuous, false);
  rejects({ ...base(), port: { driver: 'tap:x', promiscuous: false }, services: [{ app: 'echo', ports: 7, mode: 'snoop' }], cluster }, 'port.promiscuous', /promiscuous/);
});
test('port.offload: on by default for any tap port (cluster nodes and snoop or mirror services too), refused elsewhere', () => {
  assert.is(validateConfig({ ...base(), port: { driver: 'tap:x', offload: false } }).port.offload, false);
  assert.is(validateConfig({ ...base(), port: { driver: 'af_packet:eth0' } }).port.offload, false);
  rejects({ ...base(), port: { driver: 'af_packet:eth0', offload: true } }, 'port.offload', /only a tap port/);
  const cluster = { peers: [2], key: '00112233445566778899aabbccddeeff' };
  assert.is(validateConfig({ ...base(), cluster }).port.offload, true);
  assert.is(validateConfig({ ...base(), services: [{ app: 'echo', ports: 7, mode: 'snoop' }], cluster }).port.offload, true);
  assert.is(validateConfig({ ...base(), services: [{ app: 'echo', ports: 7, mode: 'mirror' }], cluster }).port.offload, true);
  assert.is(validateConfig({ ...base(), port: { driver: 'tap:x', offload: false }, services: [{ app: 'echo', ports: 7, mode: 'snoop' }], cluster }).port.offload, false);
  rejects({ ...base(), port: { driver: 'af_packet:eth0', offload: true }, cluster }, 'port.offload', /only a tap port/);
  rejects({ ...base(), port: { driver: 'tap:x', offload: 'yes' } }, 'port.offload', /./);
});
test('port.spinUs: 0 (park at once) for tap and af_packet, 50 for dpdk; 0-1000 whole µs', () => {
  assert.is(validateConfig(base()).port.spinUs, 0);
  assert.is(validateConfig({ ...base(), port: { driver: 'af_packet:eth0' } }).port.spinUs, 0);
  assert.is(validateConfig({ ...base(), port: { driver: 'dpdk:--vdev=net_memif0' } }).port.spinUs, 50);
  assert.is(validateConfig({ ...base(), port: { driver: 'tap:x', spinUs: 20 } }).port.spinUs, 20);
  rejects({ ...base(), port: { driver: 'tap:x', spinUs: 1001 } }, 'port.spinUs', /./);
  rejects({ ...base(), port: { driver: 'tap:x', spinUs: -1 } }, 'port.spinUs', /./);
  rejects({ ...base(), port: { driver: 'tap:x', spinUs: 2.5 } }, 'port.spinUs', /./);
});
test('unknown application', () => rejects({ ...base(), services: [{ app: 'ftp', ports: [21, 21] }] }, 'services[0].app', /unknown application/));
test('reversed port range', () => rejects({ ...base(), services: [{ app: 'udp-reflect', ports: [10, 9] }] }, 'services[0].ports[1]', /whole number from 10/));
test('not an object', () => rejects([], '(top)', /JSON object/));

test('faults: absent or all zero means none', () => {
  assert.is(validateConfig(base()).faults, null);
  assert.is(validateConfig({ ...base(), faults: { seed: 5, rx: { loss: 0 } } }).faults, null);
});
test('faults: given keys are kept, the rest defaulted; an unimpaired direction is null', () => {
  const c = validateConfig({ ...base(), faults: { seed: 7, rx: { loss: 0.05, delayMs: 20, jitterMs: 2.5 } } });
  assert.equal(c.faults, {
    seed: 7,
    rx: { loss: 0.05, duplicate: 0, reorder: 0, corrupt: 0, delayMs: 20, jitterMs: 2.5, reorderGap: 3, reorderHoldMs: 10 },
    tx: null,
  });
  assert.is(validateConfig({ ...base(), faults: { tx: { duplicate: 1 } } }).faults?.seed, 1);
});
test('faults: a probability above 1', () => rejects({ ...base(), faults: { rx: { loss: 1.5 } } }, 'faults.rx.loss', /probability from 0 to 1/));
test('faults: a negative delay', () => rejects({ ...base(), faults: { tx: { delayMs: -1 } } }, 'faults.tx.delayMs', /milliseconds from 0/));
test('faults: delay plus jitter is bounded', () => rejects({ ...base(), faults: { tx: { delayMs: 9000, jitterMs: 2000 } } }, 'faults.tx.jitterMs', /within 10000 ms/));
test('faults: an unknown key', () => rejects({ ...base(), faults: { rx: { los: 0.1 } } }, 'faults.rx.los', /unknown key/));
test('faults: an unknown direction', () => rejects({ ...base(), faults: { both: {} } }, 'faults.both', /unknown key/));
test('faults: a bad seed', () => rejects({ ...base(), faults: { seed: -1, rx: { loss: 0.1 } } }, 'faults.seed', /whole number/));
test('faults: a probability given as text', () => rejects({ ...base(), faults: { rx: { corrupt: '0.1' } } }, 'faults.rx.corrupt', /probability/));

test('services: TCP applications with a single port, an address and options', () => {
  const c = validateConfig({
    ...base(),
    addresses: ['198.18.0.1/24', '198.18.0.2/24'],
    services: [
      { app: 'echo', ports: 7 },
      { app: 'chargen', ports: [19, 19], address: '198.18.0.2', options: { bytes: 1000 } },
      { app: 'http', ports: 80, options: { root: tmpdir() } },
      { app: 'udp-reflect', ports: [7, 7] },
    ],
  });
  assert.equal(c.services.map((s) => [s.app, s.ports, s.address]), [['echo', [7, 7], null], ['chargen', [19, 19], 0xc6120002], ['http', [80, 80], null], ['udp-reflect', [7, 7], null]]);
  assert.equal(c.services[1]!.options, { bytes: 1000 });
});
test('services: the application validates its options, named by key path', () =>
  rejects({ ...base(), services: [{ app: 'chargen', ports: 19, options: { bytes: -5 } }] }, 'services[0].options.bytes', /whole number/));
test('services: http needs an existing root', () =>
  rejects({ ...base(), services: [{ app: 'echo', ports: 7 }, { app: 'http', ports: 80, options: { root: '/nonexistent/www' } }] }, 'services[1].options.root', /does not exist/));
test('services: http without root', () => rejects({ ...base(), services: [{ app: 'http', ports: 80 }] }, 'services[0].options.root', /missing/));
test('services: unknown application option', () => rejects({ ...base(), services: [{ app: 'echo', ports: 7, options: { x: 1 } }] }, 'services[0].options.x', /unknown option/));
test('services: udp-reflect takes no options', () => rejects({ ...base(), services: [{ app: 'udp-reflect', ports: 9, options: { x: 1 } }] }, 'services[0].options.x', /unknown key/));
test('services: an address the node does not have', () =>
  rejects({ ...base(), services: [{ app: 'echo', ports: 7, address: '198.18.0.9' }] }, 'services[0].address', /not one of this node's addresses/));
test('services: a bad address', () => rejects({ ...base(), services: [{ app: 'echo', ports: 7, address: '1.2.3' }] }, 'services[0].address', /bad IPv4/));
test('services: overlapping TCP ports on one address', () =>
  rejects({ ...base(), services: [{ app: 'echo', ports: [7, 20] }, { app: 'discard', ports: 9 }] }, 'services[1].ports', /overlaps echo/));
test('services: a port out of range', () => rejects({ ...base(), services: [{ app: 'echo', ports: 70000 }] }, 'services[0].ports', /whole number/));
test('services: the list of applications is in the error', () =>
  rejects({ ...base(), services: [{ app: 'ftp', ports: 21 }] }, 'services[0].app', /available: echo, discard, chargen, http, udp-reflect/));

const KEY_HEX = '00112233445566778899aabbccddeeff';
const withCluster = (cluster: unknown) => ({ ...base(), cluster });

test('cluster section: defaults give detection within 50 ms', () => {
  const c = validateConfig(withCluster({ peers: [2, 3], key: KEY_HEX })).cluster!;
  assert.equal([c.id, c.heartbeatMs, c.misses, c.failover, c.arp, c.quorum], [1, 10, 4, 'backup', 'unicast', true]);
  assert.is(c.lossGraceMs, 1000);
  assert.ok(c.heartbeatMs * c.misses + c.heartbeatMs <= 50);
  assert.equal(c.backups, [2, 3]);
  assert.equal(c.ports, [0, 65535]);
  assert.is(Buffer.from(c.key).toString('hex'), KEY_HEX);
  assert.is(validateConfig(base()).cluster, null);
});
test('cluster: a missing key is a clear error', () => rejects(withCluster({ peers: [2] }), 'cluster.key', /authenticated/));
test('cluster: a short key', () => rejects(withCluster({ peers: [2], key: 'abcd' }), 'cluster.key', /16 bytes/));
test('cluster: an unreadable key file', () => rejects(withCluster({ peers: [2], keyFile: '/nonexistent/k' }), 'cluster.keyFile', /cannot read/));
test('cluster: own id among peers', () => rejects(withCluster({ peers: [1, 2], key: KEY_HEX }), 'cluster.peers', /own id/));
test('cluster: a backup that is not a peer', () => rejects(withCluster({ peers: [2], backups: [3], key: KEY_HEX }), 'cluster.backups', /not in cluster.peers/));
test('cluster: unknown policy', () => rejects(withCluster({ peers: [2], key: KEY_HEX, failover: 'random' }), 'cluster.failover', /backup/));
test('cluster: unknown arp policy', () => rejects(withCluster({ peers: [2], key: KEY_HEX, arp: 'proxy' }), 'cluster.arp', /multicast/));
test('cluster: one miss is too few', () => rejects(withCluster({ peers: [2], key: KEY_HEX, misses: 1 }), 'cluster.misses', /2 to/));
test('cluster: a negative loss grace is refused, 0 turns it off', () => {
  rejects(withCluster({ peers: [2], key: KEY_HEX, lossGraceMs: -1 }), 'cluster.lossGraceMs', /0 to/);
  assert.is(validateConfig(withCluster({ peers: [2], key: KEY_HEX, lossGraceMs: 0 })).cluster!.lossGraceMs, 0);
});
test('cluster: unknown key', () => rejects(withCluster({ peers: [2], key: KEY_HEX, heartbeat: 5 }), 'cluster.heartbeat', /unknown key/));

test.run();
