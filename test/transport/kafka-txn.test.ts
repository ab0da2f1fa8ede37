/**
 * Transactions as bookwire's Kafka readers see them: committed records only, in order, nothing past an
 * open transaction, and a transaction left open by a dead producer dropped once its transactional.id is
 * taken over (the test broker neither filters aborted records nor aborts on takeover: ReadCommitted does).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel, type KafkaMessage, type Producer } from 'kafkajs';
import { silentLogger } from '../../src/log.js';
import { KafkaTransport, ReadCommitted, TXN_HEADER, FENCE_HEADER } from '../../src/transport/kafka.js';
import { kafkaSkip, startTestBroker } from '../kafka-helpers.js';
import { MessageReader } from './helpers.js';

type Rec = KafkaMessage & {
  isControlRecord?: boolean;
  batchContext?: { producerId?: string; inTransaction?: boolean };
};
let offset = 0;
const rec = (pid: string | undefined, value: string, headers: Record<string, string> = {}): Rec => ({
  key: Buffer.from('k'),
  value: Buffer.from(value),
  timestamp: '0',
  attributes: 0,
  offset: String(offset++),
  headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Buffer.from(v)])),
  batchContext: { producerId: pid ?? '-1', inTransaction: pid !== undefined },
});
const marker = (pid: string, commit: boolean): Rec => {
  const key = Buffer.alloc(4);
  key.writeInt16BE(commit ? 1 : 0, 2);
  return { ...rec(pid, ''), key, value: null, isControlRecord: true };
};
const values = (l: Rec[]) => l.map((m) => m.value!.toString());

describe('ReadCommitted', () => {
  test('holds a transaction until its marker, drops aborted ones, keeps offset order', () => {
    const rc = new ReadCommitted();
    const out: Rec[] = [];
    rc.push([rec('1', 'a1'), rec(undefined, 'plain'), rec('2', 'b1')], out);
    assert.deepEqual(values(out), [], 'nothing past an open transaction');
    assert.equal(rc.firstHeld(), BigInt(offset - 3));
    rc.push([marker('2', false), rec('2', 'b2')], out);
    assert.deepEqual(values(out), []);
    rc.push([marker('1', true)], out);
    assert.deepEqual(values(out), ['a1', 'plain'], 'b1 aborted; b2 still open');
    rc.push([marker('2', true), rec(undefined, 'after')], out);
    assert.deepEqual(values(out), ['a1', 'plain', 'b2', 'after']);
    assert.equal(rc.firstHeld(), undefined);
  });

  test("a newer producer with the same transactional.id ends the older one's open transaction as aborted", () => {
    const rc = new ReadCommitted();
    const out: Rec[] = [];
    rc.push([rec('1', 'old', { [TXN_HEADER]: 't' }), rec('9', 'other', { [TXN_HEADER]: 'u' }), marker('9', true)], out);
    assert.deepEqual(values(out), []);
    rc.push([rec('2', '', { [TXN_HEADER]: 't', [FENCE_HEADER]: 't' }), marker('2', true)], out);
    assert.deepEqual(values(out), ['other'], 'old aborted, the fence record never handed out');
    rc.push(
      [
        rec('1', 'zombie', { [TXN_HEADER]: 't' }),
        marker('1', true),
        rec('2', 'new', { [TXN_HEADER]: 't' }),
        marker('2', true),
      ],
      out,
    );
    assert.deepEqual(values(out), ['other', 'new'], 'the superseded producer is ignored from then on');
  });
});

describe('kafka transactions, end to end', { skip: kafkaSkip, timeout: 60_000 }, () => {
  test("a client never sees an aborted or unfinished transaction's records; an abandoned one stops blocking on takeover", async (t) => {
    const broker = await startTestBroker(t);
    const tr = new KafkaTransport({ brokers: broker.bootstrap, logger: silentLogger, closeTimeoutMs: 2000 });
    const kafka = new Kafka({ brokers: broker.bootstrap, logLevel: logLevel.NOTHING, clientId: 'txn-test' });
    const producers: Producer[] = [];
    const producer = async (txid: string) => {
      const p = kafka.producer({ transactionalId: txid, idempotent: true, maxInFlightRequests: 1 });
      producers.push(p);
      await p.connect();
      return p;
    };
    broker.beforeStop(async () => {
      for (const p of producers) await p.disconnect().catch(() => undefined);
      await tr.close();
    });
    const sub = await tr.subscriber('book', ['book.binance.BTCUSDT']);
    const reader = new MessageReader(sub);
    const send = async (p: Producer, value: string, end: 'commit' | 'abort' | 'open', txid: string) => {
      const tx = await p.transaction();
      await tx.send({
        topic: 'bookwire.book',
        messages: [{ key: 'binance.BTCUSDT', value, headers: { [TXN_HEADER]: txid } }],
      });
      if (end === 'commit') await tx.commit();
      else if (end === 'abort') await tx.abort();
    };
    const p1 = await producer('t1');
    await send(p1, 'committed-1', 'commit', 't1');
    await send(p1, 'aborted-2', 'abort', 't1');
    await send(p1, 'committed-3', 'commit', 't1');
    assert.deepEqual(
      (await reader.take(2, 5000)).map((m) => m.payload.toString()),
      ['committed-1', 'committed-3'],
    );

    // An unfinished transaction: nothing of it, nor anything after it, until it ends.
    await send(p1, 'committed-4', 'open', 't1');
    const p2 = await producer('t2');
    await send(p2, 'other-5', 'commit', 't2');
    assert.equal(await reader.next(1500), undefined, 'nothing past an open transaction');

    // Its producer "dies"; a new producer takes transactional.id t1 over: the open one counts as aborted.
    const p3 = await producer('t1');
    await send(p3, 'takeover-6', 'commit', 't1');
    assert.deepEqual(
      (await reader.take(2, 5000)).map((m) => m.payload.toString()),
      ['other-5', 'takeover-6'],
    );
  });
});
