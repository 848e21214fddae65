/**
 * HTTP control (`--listen-http`): `GET /ping`, `GET /metrics` (Prometheus), `POST /ng` (cookie-framed
 * ng) and `POST /ng-plain` (a bare bencode or JSON dictionary), `GET|POST /cli/<words+joined+by+plus>`,
 * and ng over WebSocket on the same port with rtpengine's subprotocols `ng.rtpengine.com` (framed) and
 * `ng-plain.rtpengine.com` (bare).
 * Like the ng port it must not face the internet: it binds loopback unless told otherwise. Bodies are
 * capped; anything else gets a clear status, never a crash.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { NgEndpoint } from '../ng/endpoint.js';
import type { Relay } from '../relay.js';
import { normaliseAddress } from '../util/address.js';
import { runCliCommand } from './cli-commands.js';
import type { ControlAcl } from './acl.js';
import { listenAll, type Bound } from './listen.js';

const FRAMED = 'ng.rtpengine.com';
const PLAIN = 'ng-plain.rtpengine.com';

/** Larger bodies are refused (413): an ng request is a few kilobytes. */
export const MAX_BODY = 1024 * 1024;

export interface HttpControlOptions {
  listen: string[];
  relay: Relay;
  ng: NgEndpoint;
  metrics: Registry;
  log: Logger;
  /** Who may connect (HTTP and WebSocket alike). */
  acl?: ControlAcl;
}

type Route = { methods: readonly string[]; handle: (req: IncomingMessage, body: Buffer, path: string) => Promise<[number, string, Buffer | string]> };

export class HttpControl {
  private readonly servers: Server[] = [];
  private readonly sockets: WebSocketServer[] = [];
  private readonly routes: Array<[RegExp, Route]>;

  constructor(private readonly options: HttpControlOptions) {
    const { relay, ng, metrics } = options;
    const source = (req: IncomingMessage): string => normaliseAddress(req.socket.remoteAddress ?? '');
    this.routes = [
      [/^\/ping$/, { methods: ['GET'], handle: async () => [200, 'text/plain', 'pong'] }],
      [/^\/metrics$/, { methods: ['GET'], handle: async () => [200, metrics.contentType, await metrics.metrics()] }],
      [
        /^\/ng$/,
        {
          methods: ['POST'],
          handle: async (req, body) => {
            const reply = await ng.framed(body, source(req));
            return reply ? [200, 'application/x-rtpengine-ng', reply] : [400, 'text/plain', 'not an ng message: expected "<cookie> <dictionary>"'];
          },
        },
      ],
      [/^\/ng-plain$/, { methods: ['POST'], handle: async (req, body) => [200, body[0] === 0x7b ? 'application/json' : 'application/x-rtpengine-ng-plain', await ng.plain(body, source(req))] }],
      [/^\/cli\/.+$/, { methods: ['GET', 'POST'], handle: async (_req, _body, path) => [200, 'text/plain', await runCliCommand(relay, decodeURIComponent(path.slice(5)).split('+'))] }],
    ];
  }

  async start(): Promise<Bound[]> {
    const listening = await listenAll(this.options.listen, 'HTTP', () => {
      const server = createServer((req, res) => void this.serve(req, res));
      server.requestTimeout = 10_000;
      server.headersTimeout = 10_000;
      return server;
    }, this.options.acl && { acl: this.options.acl, transport: 'http' });
    for (const { server } of listening) {
      server.on('error', (err) => this.options.log.error({ err }, 'HTTP control error'));
      this.servers.push(server);
      this.sockets.push(this.webSocket(server));
    }
    return listening.map((l) => l.bound);
  }

  async close(): Promise<void> {
    for (const wss of this.sockets.splice(0)) {
      for (const client of wss.clients) client.terminate();
      wss.close();
    }
    await Promise.all(
      this.servers.splice(0).map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeAllConnections();
          }),
      ),
    );
  }

  /** ng over WebSocket: each message one request, answered on the same socket; other subprotocols are refused. */
  private webSocket(server: Server): WebSocketServer {
    const wss = new WebSocketServer({
      server,
      maxPayload: MAX_BODY,
      handleProtocols: (protocols) => [...protocols].find((p) => p === FRAMED || p === PLAIN) ?? false,
    });
    wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
      const source = normaliseAddress(req.socket.remoteAddress ?? '');
      if (ws.protocol !== FRAMED && ws.protocol !== PLAIN) return ws.close(1002, `subprotocol ${FRAMED} or ${PLAIN} required`);
      ws.on('error', () => undefined);
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        const msg = isBinary ? data : Buffer.from(data);
        const reply = ws.protocol === FRAMED ? this.options.ng.framed(msg, source) : this.options.ng.plain(msg, source);
        void reply.then((r) => r && ws.readyState === ws.OPEN && ws.send(r, { binary: isBinary }));
      });
    });
    wss.on('error', (err) => this.options.log.error({ err }, 'WebSocket control error'));
    return wss;
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    const route = this.routes.find(([pattern]) => pattern.test(path))?.[1];
    try {
      if (!route) return send(res, 404, 'text/plain', `no such path: ${path}`);
      if (!route.methods.includes(req.method ?? '')) {
        res.setHeader('allow', route.methods.join(', '));
        return send(res, 405, 'text/plain', `${req.method} not allowed on ${path}`);
      }
      const body = await readBody(req);
      if (body === undefined) {
        res.setHeader('connection', 'close');
        return send(res, 413, 'text/plain', `body larger than ${MAX_BODY} bytes`);
      }
      const [status, type, content] = await route.handle(req, body, path);
      send(res, status, type, content);
    } catch (err) {
      this.options.log.error({ err, path }, 'HTTP control request failed');
      if (!res.headersSent) send(res, 500, 'text/plain', 'internal error');
    }
  }
}

function send(res: ServerResponse, status: number, type: string, content: Buffer | string): void {
  res.writeHead(status, { 'content-type': type });
  res.end(content);
}

/** The request body, or undefined once it passes MAX_BODY (the rest is not read). */
function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        req.removeAllListeners('data');
        req.pause();
        resolve(undefined);
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
