import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Body bytes read and thrown away after an early answer before the connection is cut. Enough
 * for a client that mistakenly uploads a few megabytes (a file where JSON was expected) to
 * still read its 413; an endless body then costs this instance at most 8 MiB of reading per
 * request — no more than the client had to send — and never a buffer (the bytes are dropped).
 */
export const DEFAULT_MAX_DISCARD_BYTES = 8 * 1024 * 1024;

/**
 * How long after an early answer the connection is kept at most to discard the body (nginx's
 * lingering_time): long enough for a few megabytes over a slow uplink, short enough that a
 * client trickling its body cannot hold a socket for long. Shutdown does not wait for it
 * (closeAll).
 */
export const DEFAULT_MAX_LINGER_MS = 30_000;

/** How long a discarding connection may stay silent before it is closed (nginx's lingering_timeout). */
export const DEFAULT_MAX_IDLE_MS = 5_000;

/** Once shutdown began, an early answer's connection lingers this long at most: the process has 10 s to exit. */
const SHUTDOWN_LINGER_MS = 1_000;

export interface LingeringCloseOptions {
  maxDiscardBytes?: number;
  maxLingerMs?: number;
  maxIdleMs?: number;
}

export interface LingeringClose {
  /**
   * For shutdown, which must not wait on them: ends every connection still discarding a body
   * (its answer is sent), and bounds those to come to SHUTDOWN_LINGER_MS.
   */
  closeAll(): void;
}

/**
 * Makes an answer sent before the request body was read reach the client, on every request of
 * this server: Fastify's 413 for an oversized body, a 401 or 429 from an onRequest hook, a 415.
 *
 * Node closes the socket as soon as such an answer is written when it says `Connection: close`
 * (Fastify adds it to every body-parsing error; an HTTP/1.0 or `Connection: close` client gets
 * it too). Closing a socket whose peer is still sending makes the kernel send a reset, and a
 * client that writes its whole body before reading — curl, most HTTP libraries, proxies —
 * then sees EPIPE or ECONNRESET and never reads the answer, which its own kernel may already
 * have dropped. So, as nginx's lingering close does, the answer is followed by a half-close
 * (our FIN) while the rest of the body is read and discarded; the socket is closed once the
 * body is in, or after a bound in bytes or time — a client sending endlessly cannot keep the
 * instance reading forever; it gets a close (and the answer only if it reads as it writes).
 * A kept-alive answer is left kept alive: the body is discarded within the same bounds and the
 * connection then serves the client's next request.
 */
export function installLingeringClose(
  server: Server,
  options: LingeringCloseOptions = {},
): LingeringClose {
  const maxDiscardBytes = options.maxDiscardBytes ?? DEFAULT_MAX_DISCARD_BYTES;
  const maxLingerMs = options.maxLingerMs ?? DEFAULT_MAX_LINGER_MS;
  const maxIdleMs = options.maxIdleMs ?? DEFAULT_MAX_IDLE_MS;
  const lingering = new Set<Socket>();
  let shuttingDown = false;

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    // Most requests (forward auth's GET /verify above all) have no body to leave unread.
    const length = req.headers['content-length'];
    if (req.headers['transfer-encoding'] === undefined && (length === undefined || length === '0'))
      return;
    let draining = false;
    // Before Node's own 'finish' listener (added before 'request' was emitted), which would
    // otherwise switch the body off (IncomingMessage._dump) so its bytes could not be counted.
    res.prependListener('finish', () => {
      if (req.complete || req.destroyed || req.socket.destroyed) return;
      draining = true;
      drain(req, req.socket);
    });
    // After Node's listener: if it began closing the socket (end, then destroy once our FIN is
    // out), cancel the destroy — the unread body would turn it into a reset.
    res.on('finish', () => {
      const socket = req.socket;
      if (draining && socket.writableEnded && !socket.destroyed)
        socket.removeListener('finish', socket.destroy);
    });
  });

  function drain(req: IncomingMessage, socket: Socket): void {
    lingering.add(socket);
    let discarded = 0;
    const stop = () => {
      clearTimeout(timer);
      clearTimeout(idle);
      req.removeListener('data', onData);
      req.removeListener('end', onEnd);
      socket.removeListener('close', stop);
      lingering.delete(socket);
    };
    const cut = () => {
      stop();
      socket.destroy();
    };
    const onData = (chunk: Buffer) => {
      discarded += chunk.length;
      if (discarded > maxDiscardBytes) cut();
      else idle.refresh();
    };
    // The whole body is in: a connection Node meant to close can close now without a reset; a
    // kept-alive one serves the client's next request.
    const onEnd = () => {
      if (socket.writableEnded) cut();
      else stop();
    };
    // The socket keeps the process alive while it is open; the timers need not.
    const timer = setTimeout(
      cut,
      shuttingDown ? Math.min(maxLingerMs, SHUTDOWN_LINGER_MS) : maxLingerMs,
    ).unref();
    const idle = setTimeout(cut, maxIdleMs).unref();
    req.on('data', onData);
    req.on('end', onEnd);
    socket.on('close', stop);
    req.resume();
  }

  return {
    closeAll() {
      shuttingDown = true;
      for (const socket of lingering) socket.destroy();
      lingering.clear();
    },
  };
}
