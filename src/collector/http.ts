/**
 * The collector's REST GETs over node:http(s) rather than fetch: a request can leave from a given local
 * address (collector option localAddress; a venue limits per IP, so each collector can be its own IP --
 * every 127.x address is the loopback on Linux), over a bounded pool of keep-alive sockets.
 */
import http from 'node:http';
import https from 'node:https';

export interface HttpAnswer {
  status: number;
  /** Header lookup, lower-case name. */
  header(name: string): string | undefined;
  body: string;
}

/**
 * Sockets per origin of a RestClient: the most REST requests a collector has on the wire at once. Its line
 * (Collector.turn) sends no more than this, so a request's deadline runs from when it is sent: past it,
 * requests queued in the agent for a socket and timed out there, never sent (8,089 of them in a Kafka cold
 * start of 2,000 books, issue 13), each one a retry elsewhere and weight counted for nothing.
 */
export const REST_SOCKETS = 16;

export class RestClient {
  private readonly agents: { http: http.Agent; https: https.Agent };

  constructor(
    private readonly localAddress: string | undefined,
    /** Sockets per origin: requests past it queue here instead of opening more connections. */
    maxSockets = REST_SOCKETS,
  ) {
    const o = { keepAlive: true, maxSockets };
    this.agents = { http: new http.Agent(o), https: new https.Agent(o) };
  }

  get(url: string, timeoutMs: number, maxBytes = 64 * 1024 * 1024): Promise<HttpAnswer> {
    const u = new URL(url);
    const secure = u.protocol === 'https:';
    const mod = secure ? https : http;
    return new Promise((resolve, reject) => {
      // the socket's idle timeout alone bounds neither a request queued for one of the agent's sockets nor
      // an answer dripped byte by byte: one deadline for the whole request, so a fetch always ends
      const deadline = setTimeout(() => req.destroy(new Error(`no complete answer within ${timeoutMs} ms`)), timeoutMs);
      const fail = (e: Error) => {
        clearTimeout(deadline);
        reject(e);
      };
      const req = mod.get(
        u,
        { agent: secure ? this.agents.https : this.agents.http, localAddress: this.localAddress, timeout: timeoutMs },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > maxBytes) req.destroy(new Error(`answer larger than ${maxBytes} bytes`));
            else chunks.push(c);
          });
          res.on('end', () => {
            clearTimeout(deadline);
            const h = res.headers;
            resolve({
              status: res.statusCode ?? 0,
              header: (name) => {
                const v = h[name.toLowerCase()];
                return Array.isArray(v) ? v[0] : v;
              },
              body: Buffer.concat(chunks).toString('utf8'),
            });
          });
          res.on('error', fail);
          // cut before its end (destroyed, or the peer closed): an error, never a promise left pending
          res.on('close', () => {
            if (!res.complete) fail(new Error('answer cut short'));
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', fail);
    });
  }

  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }
}
