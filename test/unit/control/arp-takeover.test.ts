// Gratuitous ARP after a takeover: an RFC 5227 announcement, repeated on a
// schedule, cancelled when the address moves on.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ANNOUNCE_GAPS_MS, ArpAnnouncer, clusterMulticastMac } from '../../../control/arp-takeover.js';

const MAC = new Uint8Array([2, 0xba, 0x70, 0, 0, 1]);
const IP = 0xc6120002;

test('announcements go out at 0 ms and after each gap, then stop', () => {
  const a = new ArpAnnouncer(MAC);
  a.announce(IP, 1000);
  const times: number[] = [];
  for (let t = 1000; t < 10_000; t++) if (a.due(t).length > 0) times.push(t - 1000);
  let at = 0;
  assert.equal(times, [0, ...ANNOUNCE_GAPS_MS.map((g) => (at += g))]);
  assert.is(a.active, 0);
});

test('each frame is a broadcast ARP request with sender IP = target IP and our MAC', () => {
  const a = new ArpAnnouncer(MAC);
  a.announce(IP, 0);
  const [f] = a.due(0);
  assert.equal([...f!.subarray(0, 6)], [255, 255, 255, 255, 255, 255]);
  assert.equal([...f!.subarray(6, 12)], [...MAC]);
  assert.equal([f![12], f![13], f![20], f![21]], [0x08, 0x06, 0, 1]);
  assert.equal([...f!.subarray(22, 28)], [...MAC]);
  assert.equal([...f!.subarray(28, 32)], [...f!.subarray(38, 42)]);
});

test('a cancelled address is not announced again', () => {
  const a = new ArpAnnouncer(MAC);
  a.announce(IP, 0);
  a.due(0);
  a.cancel(IP);
  assert.equal(a.due(5000), []);
});

test('the cluster multicast MAC is locally administered multicast', () => {
  const m = clusterMulticastMac(0x0102);
  assert.is(m, '03:ba:70:00:01:02');
  assert.is(parseInt(m.slice(0, 2), 16) & 3, 3);
});

test.run();
