// Fail-over policy as a pure function: same inputs, same answer, whatever
// the order they come in; the backup list is honoured in order; spread moves
// only the failed node's units.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { planClaims, policyHolder, snoopRoles, type ClusterView, type NodeView } from '../../../control/failover.js';
import { unitKey } from '../../../control/ownership.js';
import { ArpPolicy, ClaimReason, FailoverPolicy, Protocol, type ClaimRecord, type OwnershipRecord } from '../../../control/wire/messages.js';

const IP = (n: number): number => (0xc6120000 | n) >>> 0;
const rec = (failover: FailoverPolicy, backups: number[], addresses: number[]): OwnershipRecord => ({
  version: 1, failover, backups, arp: ArpPolicy.Unicast, protocol: Protocol.Any, application: 'x', addresses, ports: [0, 65535], macs: [], claims: [],
});

test('backup policy: the first listed backup that survives', () => {
  const u = { ip: IP(2), lo: 0, hi: 65535 };
  assert.is(policyHolder(u, rec(FailoverPolicy.Backup, [3, 1], []), [1, 3]), 3);
  assert.is(policyHolder(u, rec(FailoverPolicy.Backup, [3, 1], []), [1]), 1);
  assert.is(policyHolder(u, rec(FailoverPolicy.Backup, [], []), []), 0);
});

test('spread policy: identical on every survivor whatever the order of its inputs', () => {
  for (let a = 1; a < 200; a++) {
    const u = { ip: IP(a), lo: 0, hi: 65535 };
    const r = rec(FailoverPolicy.Spread, [], []);
    const x = policyHolder(u, r, [1, 2, 4, 5]);
    assert.is(policyHolder(u, r, [5, 4, 2, 1]), x);
    assert.is(policyHolder(u, r, [2, 5, 1, 4]), x);
  }
});

test('spread policy: load spreads, and removing a survivor moves only its units', () => {
  const r = rec(FailoverPolicy.Spread, [], []);
  const count = new Map<number, number>();
  let moved = 0;
  for (let a = 0; a < 4000; a++) {
    const u = { ip: IP(a), lo: 0, hi: 65535 };
    const x = policyHolder(u, r, [1, 2, 3, 4]);
    count.set(x, (count.get(x) ?? 0) + 1);
    const y = policyHolder(u, r, [1, 2, 4]);
    if (x !== 3 && y !== x) moved++;
  }
  for (const id of [1, 2, 3, 4]) assert.ok(count.get(id)! > 800, `node ${id}: ${count.get(id)}`);
  assert.is(moved, 0);
});

function view(self: number, nodes: Record<number, NodeView>, claims: ClaimRecord[], requireQuorum = true): ClusterView {
  const records = new Map<number, OwnershipRecord>();
  const units = new Map<string, { ip: number; lo: number; hi: number; home: number }>();
  for (const id of Object.keys(nodes).map(Number)) {
    records.set(id, rec(FailoverPolicy.Backup, Object.keys(nodes).map(Number).filter((x) => x !== id), [IP(id)]));
    const u = { ip: IP(id), lo: 0, hi: 65535, home: id };
    units.set(unitKey(u), u);
  }
  return { self, clusterSize: Object.keys(nodes).length, requireQuorum, nodes: new Map(Object.entries(nodes).map(([k, v]) => [Number(k), v])), records, claims: new Map(claims.map((c) => [unitKey(c), c])), units };
}
const up: NodeView = { alive: true, fresh: true, synced: true, fenced: false };
const down: NodeView = { alive: false, fresh: false, synced: true, fenced: false };
const joining: NodeView = { alive: true, fresh: true, synced: false, fenced: false };
const stale: NodeView = { ...up, fresh: false };
const claim = (home: number, holder: number, epoch: number): ClaimRecord => ({ ip: IP(home), lo: 0, hi: 65535, home, holder, epoch, author: holder, sinceMs: 0, reason: ClaimReason.Home });

test('planClaims: takeover of a failed holder’s unit, at epoch + 1, only by the chosen survivor', () => {
  const claims = [claim(1, 1, 1), claim(2, 2, 4), claim(3, 3, 1)];
  const on1 = planClaims(view(1, { 1: up, 2: down, 3: up }, claims), 50);
  assert.equal(on1.map((c) => [c.ip, c.holder, c.epoch, c.reason]), [[IP(2), 1, 5, ClaimReason.Takeover]]);
  assert.equal(planClaims(view(3, { 1: up, 2: down, 3: up }, claims), 50), []);
});

test('planClaims: nothing is taken from a live holder, nor from a home still joining', () => {
  assert.equal(planClaims(view(1, { 1: up, 2: joining, 3: up }, [claim(1, 1, 1), claim(3, 3, 1)]), 0), []);
  assert.equal(planClaims(view(1, { 1: up, 2: up, 3: up }, [claim(1, 1, 1), claim(2, 2, 1), claim(3, 3, 1)]), 0), []);
});

test('planClaims: the holder grants a unit back to its synced home (failback), not to a joining one', () => {
  const claims = [claim(1, 1, 1), { ...claim(2, 1, 2), reason: ClaimReason.Takeover }, claim(3, 3, 1)];
  assert.equal(planClaims(view(1, { 1: up, 2: joining, 3: up }, claims), 0), []);
  const g = planClaims(view(1, { 1: up, 2: up, 3: up }, claims), 0);
  assert.equal(g.map((c) => [c.holder, c.epoch, c.reason, c.author]), [[2, 3, ClaimReason.Failback, 1]]);
});

test('planClaims: without a majority no takeover; a joining or fenced node writes nothing', () => {
  const claims = [claim(1, 1, 1), claim(2, 2, 1), claim(3, 3, 1)];
  assert.equal(planClaims(view(1, { 1: up, 2: down, 3: down }, claims), 0), []);
  assert.is(planClaims(view(1, { 1: up, 2: down, 3: down }, claims, false), 0).length, 2);
  assert.equal(planClaims(view(1, { 1: joining, 2: down, 3: up }, claims), 0), []);
  assert.equal(planClaims(view(1, { 1: up, 2: down, 3: stale }, claims), 0), [], 'a peer about to time out does not make a majority');
  assert.equal(planClaims(view(1, { 1: { ...up, fenced: true }, 2: down, 3: up }, claims), 0), []);
});

test('snoopRoles: the node that shadows a unit is the one that would take it over; its holder mirrors to that node', () => {
  const claims = [claim(1, 1, 1), claim(2, 2, 1), claim(3, 3, 1)];
  // Each home's backup list is the other nodes in id order: node 1's first backup is 2, node 2's and 3's is 1.
  assert.equal(snoopRoles(view(2, { 1: up, 2: up, 3: up }, claims)), { shadow: [{ ip: IP(1), holder: 1 }], mirrorTo: [{ ip: IP(2), backup: 1 }], failed: [] });
  assert.equal(snoopRoles(view(1, { 1: up, 2: up, 3: up }, claims)).shadow, [{ ip: IP(2), holder: 2 }, { ip: IP(3), holder: 3 }]);
  assert.equal(snoopRoles(view(3, { 1: up, 2: up, 3: up }, claims)).shadow, []);
  // Node 1 failed and node 2 took its address: node 3 now backs it up (node 1 is gone).
  const after = [claim(1, 2, 2), claim(2, 2, 1), claim(3, 3, 1)];
  assert.equal(snoopRoles(view(3, { 1: down, 2: up, 3: up }, after)).shadow, [{ ip: IP(1), holder: 2 }, { ip: IP(2), holder: 2 }]);
  // A peer not alive is listed: connection moves to it come back (Handoff.targetFailed).
  assert.equal(snoopRoles(view(3, { 1: down, 2: up, 3: up }, after)).failed, [1]);
  // A node still joining shadows nothing.
  assert.equal(snoopRoles(view(2, { 1: up, 2: joining, 3: up }, claims)).shadow, []);
});

test.run();
