import Fastify from 'fastify';

// The HTTP ceiling of this machine: Fastify with one tiny JSON route and nothing else (no
// logger, hooks, database or crypto). The service's figures are read as a share of this.
const app = Fastify({ logger: false });
app.get('/', async () => ({ hello: 'world' }));

const port = Number(process.env['BARE_PORT'] ?? '0');
await app.listen({ port, host: '127.0.0.1' });
process.on('SIGTERM', () => {
  void app.close().then(() => process.exit(0));
});
