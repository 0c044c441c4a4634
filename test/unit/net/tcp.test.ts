import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  TCP_FLAG_ACK, TCP_FLAG_CWR, TCP_FLAG_ECE, TCP_FLAG_FIN, TCP_FLAG_PSH, TCP_FLAG_RST, TCP_FLAG_SYN, TCP_FLAG_URG,
  setTcpAck, setTcpChecksumField, setTcpDstPort, setTcpFlags, setTcpSeq, setTcpSrcPort, setTcpWindow,
  tcpAck, tcpChecksum, tcpChecksumField, tcpChecksumFill, tcpChecksumOk, tcpDstPort, tcpFlags, tcpFlagsToString,
  tcpHeaderLen, tcpSeq, tcpSrcPort, tcpUrgent, tcpWindow, writeTcpHeader,
} from '../../../dataplane/net/tcp.js';
import { VERIFY_ALL } from '../../../dataplane/net/frame.js';
import { L4, TCP_TEMPLATE, buildTcpFrame } from './frame-builder.js';
import { expectMeta, parseOk } from './meta-checker.js';

test('writeTcpHeader and the accessors agree; checksum starts zero', () => {
  const b = new Uint8Array(24);
  assert.is(writeTcpHeader(b, 2, 65535, 1, 0xffffffff, 0x80000000, 32, TCP_FLAG_SYN | TCP_FLAG_ACK, 0xabcd, 0x1234), 20);
  assert.is(tcpSrcPort(b, 2), 65535);
  assert.is(tcpDstPort(b, 2), 1);
  assert.is(tcpSeq(b, 2), 0xffffffff);
  assert.is(tcpAck(b, 2), 0x80000000);
  assert.is(tcpHeaderLen(b, 2), 32);
  assert.is(tcpFlags(b, 2), TCP_FLAG_SYN | TCP_FLAG_ACK);
  assert.is(tcpWindow(b, 2), 0xabcd);
  assert.is(tcpUrgent(b, 2), 0x1234);
  assert.is(tcpChecksumField(b, 2), 0);
});

test('setters rewrite fields in place; the checksum follows only when re-filled', () => {
  const f = buildTcpFrame(TCP_TEMPLATE);
  setTcpSrcPort(f, L4, 1);
  setTcpDstPort(f, L4, 2);
  setTcpSeq(f, L4, 3);
  setTcpAck(f, L4, 4);
  setTcpFlags(f, L4, TCP_FLAG_FIN | TCP_FLAG_ACK);
  setTcpWindow(f, L4, 5);
  const src = 0xc6120001;
  const dst = 0xc6130050;
  assert.not.ok(tcpChecksumOk(f, L4, 20, src, dst));
  const want = tcpChecksum(f, L4, 20, src, dst);
  tcpChecksumFill(f, L4, 20, src, dst);
  assert.is(tcpChecksumField(f, L4), want);
  assert.ok(tcpChecksumOk(f, L4, 20, src, dst));
  expectMeta(parseOk(f, VERIFY_ALL), { srcPort: 1, dstPort: 2, seq: 3, ack: 4, tcpFlags: TCP_FLAG_FIN | TCP_FLAG_ACK, window: 5 });
  setTcpChecksumField(f, L4, want ^ 1);
  assert.not.ok(tcpChecksumOk(f, L4, 20, src, dst));
});

test('every flag bit survives the round trip, and prints by name', () => {
  const all = [TCP_FLAG_FIN, TCP_FLAG_SYN, TCP_FLAG_RST, TCP_FLAG_PSH, TCP_FLAG_ACK, TCP_FLAG_URG, TCP_FLAG_ECE, TCP_FLAG_CWR];
  for (const flag of all) {
    assert.is(parseOk(buildTcpFrame({ ...TCP_TEMPLATE, flags: flag }), VERIFY_ALL).tcpFlags, flag);
  }
  assert.is(tcpFlagsToString(TCP_FLAG_SYN | TCP_FLAG_ACK), 'SYN|ACK');
  assert.is(tcpFlagsToString(0xff), 'FIN|SYN|RST|PSH|ACK|URG|ECE|CWR');
  assert.is(tcpFlagsToString(0), '');
});

test('sequence and acknowledgment numbers are unsigned at the wrap', () => {
  for (const seq of [0, 1, 0x7fffffff, 0x80000000, 0xffffffff]) {
    const m = parseOk(buildTcpFrame({ ...TCP_TEMPLATE, seq, ack: (seq + 1) >>> 0 }), VERIFY_ALL);
    expectMeta(m, { seq, ack: (seq + 1) >>> 0 });
  }
});

test('urgent pointer is read', () => {
  expectMeta(parseOk(buildTcpFrame({ ...TCP_TEMPLATE, flags: TCP_FLAG_URG | TCP_FLAG_ACK, urgent: 77 }), VERIFY_ALL), { urgent: 77 });
});

test.run();
