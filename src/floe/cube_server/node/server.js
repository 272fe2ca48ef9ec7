// The Cube API server floe starts (floe.cube_server). Written for floe; not a copy of Cube's CLI.
//
// Everything Cube itself reads comes from CUBEJS_* variables (database, API secret, refresh
// worker, dev mode), set by floe. floe's own settings:
//   FLOE_CUBE_MODEL  folder of the Cube model files (.floe/cube/model)
//   FLOE_CUBE_HOST   address to listen on (127.0.0.1)
//   FLOE_CUBE_PORT   port to listen on; 0 picks a free one
// Once listening it prints one JSON line on stdout: {"floe_cube_listening": {"port": N}}.
// It ends on SIGINT/SIGTERM, and when its standard input closes: floe holds the other end, so a
// floe that dies however it dies (kill -9 included) takes this server with it.
'use strict';

const http = require('http');
const path = require('path');
const express = require('express');
const bodyParser = require('body-parser');
const { CubejsServerCore } = require('@cubejs-backend/server-core');
const PostgresDriver = require('@cubejs-backend/postgres-driver');

const modelFolder = process.env.FLOE_CUBE_MODEL;
if (!modelFolder) {
  console.error('floe cube server: FLOE_CUBE_MODEL is not set');
  process.exit(2);
}
const host = process.env.FLOE_CUBE_HOST || '127.0.0.1';
const port = Number.parseInt(process.env.FLOE_CUBE_PORT || '4000', 10);

const app = express();
// Cube's queries can be long (many members, filters); its own server allows 50 MB bodies.
app.use(bodyParser.json({ limit: '50mb' }));

// Cube joins schemaPath to the working directory, even an absolute one: give it relative.
const core = new CubejsServerCore({ schemaPath: path.relative(process.cwd(), path.resolve(modelFolder)) || '.' });
const server = http.createServer(app);
let stopping = false;

async function stop(code) {
  if (stopping) {
    return;
  }
  stopping = true;
  // Never hang on the way out: a stuck pool or refresh must not keep the port.
  setTimeout(() => process.exit(code), 5000).unref();
  server.close();
  try {
    await core.beforeShutdown();
    await core.shutdown();
  } catch (err) {
    console.error(`floe cube server: shutting down: ${err && err.message}`);
  }
  process.exit(code);
}

process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));
process.stdin.on('end', () => stop(0));
process.stdin.on('error', () => stop(0));
process.stdin.resume();

// The refresh worker and the first query would both create the rollups' schema, and
// PostgreSQL's CREATE SCHEMA IF NOT EXISTS is not safe against itself: create it first.
async function createPreAggregationsSchema() {
  const schema = process.env.CUBEJS_PRE_AGGREGATIONS_SCHEMA;
  if (!schema) {
    return;
  }
  const driver = new PostgresDriver();
  try {
    await driver.createSchemaIfNotExists(schema);
  } catch (err) {
    // Another server made it at the same moment, or the database is down: /readyz tells.
    console.error(`floe cube server: creating schema ${schema}: ${err && err.message}`);
  } finally {
    await driver.release();
  }
}

async function main() {
  await createPreAggregationsSchema();
  await core.initApp(app);
  server.on('error', (err) => {
    console.error(`floe cube server: cannot listen on ${host}:${port}: ${err.message}`);
    process.exit(3);
  });
  server.listen(port, host, () => {
    const address = server.address();
    process.stdout.write(`${JSON.stringify({ floe_cube_listening: { port: address.port } })}\n`);
  });
}

main().catch((err) => {
  console.error(`floe cube server: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});
