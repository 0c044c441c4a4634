// Wire codec micro-benchmarks (dataplane/net).
//
//   net.parse_tcp_hash  parseFrame (Ethernet + IPv4 + TCP with options, no
//                       checksum verification) + flow hash, over 256 distinct
//                       frames laid out in 2048-byte slots like a packet pool.
//   net.checksum_1500   onesSum over 1500-byte payloads at offset 54 of each
//                       2048-byte slot (where a TCP payload starts behind
//                       14 + 20 + 20 bytes of headers).
//
// Each tinybench iteration walks the whole pool PASSES times so that one
// sample is ~0.1 ms and timer resolution and call overhead do not dominate.

import { Bench } from 'tinybench';
import type { Metric } from './metric.js';
import { FrameMeta, parseFrame, VERIFY_NONE } from '../dataplane/net/frame.js';
import { onesSum } from '../dataplane/net/checksum.js';
import { ETHERTYPE_IPV4, writeEthernet } from '../dataplane/net/ethernet.js';
import { IPV4_FLAG_DF, IP_PROTO_TCP, writeIpv4Header } from '../dataplane/net/ipv4.js';
import {
  TCP_FLAG_ACK, TCP_FLAG_PSH, TCP_FLAG_SYN, tcpChecksumFill, writeTcpHeader, writeTcpOptions,
} from '../dataplane/net/tcp.js';
import { Reason } from '../dataplane/net/reason.js';

const SLOT = 2048;
const FRAMES = 256;
const PASSES = 8;
const CSUM_OFF = 54;
const CSUM_LEN = 1500;

/** Seeded PRNG (mulberry32) so every run benchmarks the same frames. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
}

interface Pool { readonly buf: Uint8Array; readonly lens: Int32Array }

/** 256 realistic TCP frames: SYNs with MSS+SACK-permitted+TS+WS, ACKs with TS (+SACK blocks), data segments. */
function buildPool(): Pool {
  const rnd = mulberry32(0xba7042);
  const buf = new Uint8Array(new SharedArrayBuffer(SLOT * FRAMES));
  const lens = new Int32Array(FRAMES);
  const macA = new Uint8Array([0x02, 0, 0, 0, 0, 1]);
  const macB = new Uint8Array([0x02, 0, 0, 0, 0, 2]);
  const sack = new Uint32Array(8);
  for (let i = 0; i < FRAMES; i++) {
    const off = i * SLOT;
    const client = (0xc6120000 | (rnd() & 0xffff)) >>> 0; // 198.18.0.0/16
    const server = 0xc6130001; // 198.19.0.1
    const toServer = (i & 1) === 0;
    const src = toServer ? client : server;
    const dst = toServer ? server : client;
    const cport = 1024 + (rnd() % 64000);
    const sport = toServer ? cport : 443;
    const dport = toServer ? 443 : cport;
    const seq = rnd();
    const ack = rnd();
    const tsVal = rnd();
    const tsEcr = rnd();
    let optLen: number;
    let flags: number;
    let payload: number;
    switch (i % 4) {
      case 0: // SYN: MSS, SACK-permitted, TS, WS (Linux's 20 bytes)
        optLen = writeTcpOptions(buf, off + 34 + 20, 1460, 7, 1, tsVal, tsEcr, 1, sack, 0);
        flags = TCP_FLAG_SYN;
        payload = 0;
        break;
      case 1: // pure ACK with TS and two SACK blocks
        sack[0] = ack + 1000; sack[1] = ack + 2448; sack[2] = ack + 4000; sack[3] = ack + 5448;
        optLen = writeTcpOptions(buf, off + 34 + 20, 0, -1, 0, tsVal, tsEcr, 1, sack, 2);
        flags = TCP_FLAG_ACK;
        payload = 0;
        break;
      case 2: // full-sized data segment with TS
        optLen = writeTcpOptions(buf, off + 34 + 20, 0, -1, 0, tsVal, tsEcr, 1, sack, 0);
        flags = TCP_FLAG_ACK | TCP_FLAG_PSH;
        payload = 1448;
        break;
      default: // small request with TS
        optLen = writeTcpOptions(buf, off + 34 + 20, 0, -1, 0, tsVal, tsEcr, 1, sack, 0);
        flags = TCP_FLAG_ACK | TCP_FLAG_PSH;
        payload = 64 + (rnd() % 400);
        break;
    }
    const tcpLen = 20 + optLen + payload;
    for (let p = 0; p < payload; p++) buf[off + 34 + 20 + optLen + p] = rnd();
    writeEthernet(buf, off, toServer ? macB : macA, 0, toServer ? macA : macB, 0, ETHERTYPE_IPV4);
    writeIpv4Header(buf, off + 14, 0, 20 + tcpLen, rnd() & 0xffff, IPV4_FLAG_DF, 64, IP_PROTO_TCP, src, dst);
    writeTcpHeader(buf, off + 34, sport, dport, seq, ack, 20 + optLen, flags, 64240, 0);
    tcpChecksumFill(buf, off + 34, tcpLen, src, dst);
    lens[i] = 14 + 20 + tcpLen;
  }
  return { buf, lens };
}

// Results are folded into this module variable so the optimiser cannot drop the work.
let sink = 0;

function parsePool(buf: Uint8Array, lens: Int32Array, meta: FrameMeta): number {
  let acc = 0;
  for (let pass = 0; pass < PASSES; pass++) {
    for (let i = 0; i < FRAMES; i++) {
      const r = parseFrame(buf, i * SLOT, lens[i]!, meta, VERIFY_NONE);
      acc = (acc + (r === Reason.OK ? meta.hash : 0x7fffffff)) | 0;
    }
  }
  return acc;
}

function checksumPool(buf: Uint8Array): number {
  let acc = 0;
  for (let pass = 0; pass < PASSES; pass++) {
    for (let i = 0; i < FRAMES; i++) acc = (acc + onesSum(buf, i * SLOT + CSUM_OFF, CSUM_LEN, 0)) | 0;
  }
  return acc;
}

export async function run(): Promise<Metric[]> {
  const { buf, lens } = buildPool();
  const meta = new FrameMeta();
  for (let i = 0; i < FRAMES; i++) {
    const r = parseFrame(buf, i * SLOT, lens[i]!, meta, VERIFY_NONE);
    if (r !== Reason.OK) throw new Error(`bench frame ${i} does not parse: reason ${r}`);
  }
  const bench = new Bench({ time: 2000, warmupTime: 500 });
  bench.add('net.parse_tcp_hash', () => { sink ^= parsePool(buf, lens, meta); });
  bench.add('net.checksum_1500', () => { sink ^= checksumPool(buf); });
  await bench.run();

  const out: Metric[] = [];
  const perIteration = FRAMES * PASSES;
  for (const task of bench.tasks) {
    const res = task.result;
    if (res.state !== 'completed') throw new Error(`bench ${task.name} ended ${res.state}`);
    const meanMs = res.latency.mean;
    const hz = 1000 / meanMs;
    if (task.name === 'net.parse_tcp_hash') {
      out.push({ name: task.name, unit: 'M packets/s', value: (hz * perIteration) / 1e6, hz, samples: res.latency.samplesCount, goal: '>= 10' });
    } else {
      out.push({ name: task.name, unit: 'GB/s', value: (hz * perIteration * CSUM_LEN) / 1e9, hz, samples: res.latency.samplesCount, goal: '>= 4' });
    }
  }
  return out;
}
