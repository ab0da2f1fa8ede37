/**
 * One websocket client of the simulator: its stream subscriptions, its live requests (SUBSCRIBE,
 * UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY/GET_PROPERTY "combined") and its fault-injecting output.
 * Only diff-depth streams carry data: <symbol>@depth, <symbol>@depth@100ms, <symbol>@depth@1000ms.
 * Any other stream name (other channels, unknown symbols, upper case) is accepted and stays silent, as
 * Binance does for a symbol it does not list.
 */
import type { FaultyOutput } from './faults.js';

const DEPTH_STREAM = /^([a-z0-9]+)@depth(?:@(?:100|1000)ms)?$/;

/** Upper-case symbol of a diff-depth stream name, or undefined. */
export function depthStreamSymbol(name: string): string | undefined {
  const m = DEPTH_STREAM.exec(name);
  return m === null ? undefined : m[1].toUpperCase();
}

/** Where sessions register for a symbol's events (the simulator's fan-out index). */
export interface StreamIndex {
  add(symbol: string, session: WsSession): void;
  remove(symbol: string, session: WsSession): void;
}

type RequestId = number | string | null;

const METHODS = ['SUBSCRIBE', 'UNSUBSCRIBE', 'LIST_SUBSCRIPTIONS', 'SET_PROPERTY', 'GET_PROPERTY'];

function errorFrame(code: number, msg: string, id: RequestId): string {
  return JSON.stringify({ error: { code, msg }, id });
}

export class WsSession {
  /** Subscribed stream names, in subscription order (LIST_SUBSCRIPTIONS). */
  private readonly streams: string[] = [];
  /** Upper-case symbol -> the depth stream names subscribed for it. */
  readonly bySymbol = new Map<string, string[]>();
  lastPongMs = Date.now();

  constructor(
    readonly id: number,
    readonly profileName: string,
    /** true: payloads wrapped as {"stream","data"} (/stream, or SET_PROPERTY combined). */
    public combined: boolean,
    readonly out: FaultyOutput,
    private readonly index: StreamIndex,
  ) {}

  subscribe(names: readonly string[]): void {
    for (const name of names) {
      if (this.streams.includes(name)) continue;
      this.streams.push(name);
      const symbol = depthStreamSymbol(name);
      if (symbol === undefined) continue;
      const list = this.bySymbol.get(symbol);
      if (list) list.push(name);
      else {
        this.bySymbol.set(symbol, [name]);
        this.index.add(symbol, this);
      }
    }
  }

  unsubscribe(names: readonly string[]): void {
    for (const name of names) {
      const i = this.streams.indexOf(name);
      if (i < 0) continue;
      this.streams.splice(i, 1);
      const symbol = depthStreamSymbol(name);
      const list = symbol === undefined ? undefined : this.bySymbol.get(symbol);
      if (symbol === undefined || list === undefined) continue;
      list.splice(list.indexOf(name), 1);
      if (list.length === 0) {
        this.bySymbol.delete(symbol);
        this.index.remove(symbol, this);
      }
    }
  }

  /** Drop every subscription (connection closed). */
  detach(): void {
    for (const symbol of this.bySymbol.keys()) this.index.remove(symbol, this);
    this.bySymbol.clear();
    this.streams.length = 0;
    this.out.close();
  }

  /** Handle a text frame from the client. Bad requests get Binance's error frame, never an exception. */
  onRequest(text: string): void {
    let req: unknown;
    try {
      req = JSON.parse(text);
    } catch (e) {
      this.out.sendControl(errorFrame(3, `Invalid JSON: ${(e as Error).message}`, null));
      return;
    }
    if (typeof req !== 'object' || req === null || Array.isArray(req)) {
      this.out.sendControl(errorFrame(2, 'Invalid request: expected a JSON object', null));
      return;
    }
    const r = req as Record<string, unknown>;
    const id = r.id;
    const idOk =
      id === null ||
      (typeof id === 'number' && Number.isSafeInteger(id)) ||
      (typeof id === 'string' && /^[A-Za-z0-9-]{1,36}$/.test(id));
    if (!idOk) {
      this.out.sendControl(errorFrame(2, 'Invalid request: request ID must be an unsigned integer', null));
      return;
    }
    const reqId = id as RequestId;
    if (typeof r.method !== 'string') {
      this.out.sendControl(errorFrame(2, 'Invalid request: missing field `method`', reqId));
      return;
    }
    if (!METHODS.includes(r.method)) {
      this.out.sendControl(
        errorFrame(
          2,
          `Invalid request: unknown variant \`${r.method}\`, expected one of ${METHODS.map((m) => `\`${m}\``).join(', ')}`,
          reqId,
        ),
      );
      return;
    }
    const params = r.params;
    switch (r.method) {
      case 'SUBSCRIBE':
      case 'UNSUBSCRIBE': {
        if (!Array.isArray(params) || !params.every((p) => typeof p === 'string')) {
          this.out.sendControl(errorFrame(2, 'Invalid request: params must be an array of stream names', reqId));
          return;
        }
        if (r.method === 'SUBSCRIBE') this.subscribe(params as string[]);
        else this.unsubscribe(params as string[]);
        this.out.sendControl(JSON.stringify({ result: null, id: reqId }));
        return;
      }
      case 'LIST_SUBSCRIPTIONS':
        this.out.sendControl(JSON.stringify({ result: this.streams, id: reqId }));
        return;
      case 'SET_PROPERTY': {
        if (!Array.isArray(params) || params[0] !== 'combined') {
          this.out.sendControl(errorFrame(0, 'Unknown property', reqId));
          return;
        }
        if (typeof params[1] !== 'boolean') {
          this.out.sendControl(errorFrame(1, 'Invalid value type: expected Boolean', reqId));
          return;
        }
        this.combined = params[1];
        this.out.sendControl(JSON.stringify({ result: null, id: reqId }));
        return;
      }
      case 'GET_PROPERTY': {
        if (!Array.isArray(params) || params[0] !== 'combined') {
          this.out.sendControl(errorFrame(0, 'Unknown property', reqId));
          return;
        }
        this.out.sendControl(JSON.stringify({ result: this.combined, id: reqId }));
        return;
      }
    }
  }
}
