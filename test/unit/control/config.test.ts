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
  assert.equal(c.port, { kind: 'tap', target: 'n1tap', mac: defaultMac(1), queues: 1, promiscuous: false });
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
  assert.equal(c.services, [{ app: 'udp-reflect', ports: [9, 9] }]);
});
test('unknown application', () => rejects({ ...base(), services: [{ app: 'ftp', ports: [21, 21] }] }, 'services[0].app', /unknown application/));
test('reversed port range', () => rejects({ ...base(), services: [{ app: 'udp-reflect', ports: [10, 9] }] }, 'services[0].ports[1]', /whole number from 10/));
test('not an object', () => rejects([], '(top)', /JSON object/));


const KEY_HEX = '00112233445566778899aabbccddeeff';
const withCluster = (cluster: unknown) => ({ ...base(), cluster });

test('cluster section: defaults give detection within 50 ms', () => {
  const c = validateConfig(withCluster({ peers: [2, 3], key: KEY_HEX })).cluster!;
  assert.equal([c.id, c.heartbeatMs, c.misses, c.failover, c.arp, c.quorum], [1, 10, 4, 'backup', 'unicast', true]);
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
test('cluster: unknown key', () => rejects(withCluster({ peers: [2], key: KEY_HEX, heartbeat: 5 }), 'cluster.heartbeat', /unknown key/));

test.run();
