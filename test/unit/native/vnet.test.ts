// The TAP back-end's virtio-net header handling (native/src/vnet.h), through
// the addon's test bindings: receive flags from the kernel's header, and the
// header Baton writes before each frame it sends.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { native } from '../../../native/addon.js';
import { DESC_FLAG_CSUM_OK, DESC_FLAG_CSUM_PARTIAL, DESC_FLAG_GSO } from '../../../shm/layout.js';
import { ETHERTYPE_IPV4, writeEthernet, writeEthernetVlan } from '../../../dataplane/net/ethernet.js';
import { IP_PROTO_ICMP, IP_PROTO_TCP, IP_PROTO_UDP, IPV4_FLAG_DF, writeIpv4Header } from '../../../dataplane/net/ipv4.js';
import { TCP_FLAG_ACK, TCP_HEADER_LEN, writeTcpHeader, writeTcpOptions } from '../../../dataplane/net/tcp.js';

const MAC_A = Uint8Array.from([2, 0, 0, 0, 0, 1]);
const MAC_B = Uint8Array.from([2, 0, 0, 0, 0, 2]);

function hdr(flags: number, gso: number, hdrLen = 0, gsoSize = 0, start = 0, off = 0): Uint8Array {
  return Uint8Array.from([flags, gso, hdrLen & 0xff, hdrLen >> 8, gsoSize & 0xff, gsoSize >> 8, start & 0xff, start >> 8, off & 0xff, off >> 8]);
}

/** An IPv4 frame of `proto` with `payload` bytes after its L4 header (TCP with timestamps: 32-byte header). */
function frame(proto: number, payload: number, vlan = false): Uint8Array {
  const b = new Uint8Array(70_000);
  const l3 = vlan ? writeEthernetVlan(b, 0, MAC_B, 0, MAC_A, 0, 9, 0, ETHERTYPE_IPV4) : writeEthernet(b, 0, MAC_B, 0, MAC_A, 0, ETHERTYPE_IPV4);
  const l4 = l3 + 20;
  let l4Len: number;
  if (proto === IP_PROTO_TCP) {
    const opt = writeTcpOptions(b, l4 + TCP_HEADER_LEN, 0, -1, 0, 1, 2, 1, new Uint32Array(8), 0);
    writeTcpHeader(b, l4, 80, 4000, 1, 2, TCP_HEADER_LEN + opt, TCP_FLAG_ACK, 100, 0);
    l4Len = TCP_HEADER_LEN + opt + payload;
  } else {
    l4Len = 8 + payload;
  }
  writeIpv4Header(b, l3, 0, 20 + l4Len, 1, IPV4_FLAG_DF, 64, proto, 0xc6120001, 0xc6120002);
  return b.slice(0, l4 + l4Len);
}

test('rx: DATA_VALID means verified, NEEDS_CSUM means partial, a TCP GSO type means a large segment', () => {
  assert.is(native.vnetRxFlags(hdr(0, 0)), 0);
  assert.is(native.vnetRxFlags(hdr(2, 0)), DESC_FLAG_CSUM_OK);
  assert.is(native.vnetRxFlags(hdr(1, 0, 0, 0, 34, 16)), DESC_FLAG_CSUM_PARTIAL);
  assert.is(native.vnetRxFlags(hdr(1, 1, 66, 1448, 34, 16)), DESC_FLAG_CSUM_PARTIAL | DESC_FLAG_GSO, 'TCPv4');
  assert.is(native.vnetRxFlags(hdr(1, 4, 86, 1428, 54, 16)), DESC_FLAG_CSUM_PARTIAL | DESC_FLAG_GSO, 'TCPv6');
  assert.is(native.vnetRxFlags(hdr(1, 0x81, 66, 1448, 34, 16)), DESC_FLAG_CSUM_PARTIAL | DESC_FLAG_GSO, 'TCPv4 with ECN');
  assert.is(native.vnetRxFlags(hdr(1, 3, 42, 1472, 34, 6)), -1, 'UDP fragmentation offload was never asked for: dropped');
  assert.is(native.vnetRxFlags(hdr(0, 5)), -1, 'unknown GSO type: dropped');
});

test('tx: a plain frame gets an all-zero header', () => {
  assert.equal(native.vnetTxHeader(frame(IP_PROTO_TCP, 100), 0, 0), new Uint8Array(10));
  assert.equal(native.vnetTxHeader(frame(IP_PROTO_ICMP, 100), 0, 0), new Uint8Array(10));
});

test('tx: a checksum-partial TCP or UDP frame gets NEEDS_CSUM with the L4 offset and the checksum field', () => {
  assert.equal(native.vnetTxHeader(frame(IP_PROTO_TCP, 100), DESC_FLAG_CSUM_PARTIAL, 0), hdr(1, 0, 0, 0, 34, 16));
  assert.equal(native.vnetTxHeader(frame(IP_PROTO_UDP, 100), DESC_FLAG_CSUM_PARTIAL, 0), hdr(1, 0, 0, 0, 34, 6));
  assert.equal(native.vnetTxHeader(frame(IP_PROTO_TCP, 100, true), DESC_FLAG_CSUM_PARTIAL, 0), hdr(1, 0, 0, 0, 38, 16), 'after a VLAN tag');
  assert.is(native.vnetTxHeader(frame(IP_PROTO_ICMP, 100), DESC_FLAG_CSUM_PARTIAL, 0), null, 'ICMP: nothing to offload, dropped');
});

test('tx: a large TCP segment gets GSO_TCPV4 with its header length and segment size', () => {
  const f = frame(IP_PROTO_TCP, 40_000);
  assert.equal(native.vnetTxHeader(f, DESC_FLAG_GSO | DESC_FLAG_CSUM_PARTIAL, 1448), hdr(1, 1, 66, 1448, 34, 16));
  // One segment's worth or less needs no cutting.
  assert.equal(native.vnetTxHeader(frame(IP_PROTO_TCP, 1448), DESC_FLAG_GSO | DESC_FLAG_CSUM_PARTIAL, 1448), hdr(1, 0, 0, 0, 34, 16));
  assert.is(native.vnetTxHeader(f, DESC_FLAG_GSO, 0), null, 'no segment size');
  assert.is(native.vnetTxHeader(frame(IP_PROTO_UDP, 4000), DESC_FLAG_GSO, 1000), null, 'not TCP');
  const arp = frame(IP_PROTO_TCP, 100);
  arp[12] = 0x08;
  arp[13] = 0x06;
  assert.is(native.vnetTxHeader(arp, DESC_FLAG_GSO, 1000), null, 'not IPv4');
  assert.is(native.vnetTxHeader(f.subarray(0, 40), DESC_FLAG_CSUM_PARTIAL, 0), null, 'truncated');
});

test.run();
