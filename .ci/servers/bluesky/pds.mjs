// Start the reference Bluesky PDS (@atproto/pds) and an in-memory PLC directory
// (@did-plc/server) on free 127.0.0.1 ports, fully offline, for veille's tests.
//
// Prints one JSON line when both are ready:
//   {"pds": "http://127.0.0.1:P", "plc": "http://127.0.0.1:Q", "admin_password": "..."}
// Exits (cleaning its temporary data) when stdin closes, or on SIGTERM/SIGINT,
// so a test runner that dies never leaves it behind.
//
// The npm packages live outside the source tree (setup.sh installs them into
// $REPO/.cache/bluesky); BLUESKY_PDS_MODULES overrides that folder.
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import net from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const repo = path.resolve(here, '..', '..', '..')
const modules = process.env.BLUESKY_PDS_MODULES || path.join(repo, '.cache', 'bluesky')

// Quiet by default: the PDS logs every request through pino otherwise.
process.env.LOG_ENABLED ??= 'false'

const require = createRequire(path.join(modules, 'package.json'))
const { PDS, envToCfg, envToSecrets } = require('@atproto/pds')
const { PlcServer, Database: PlcDatabase } = require('@did-plc/server')
const { Secp256k1Keypair } = require('@atproto/crypto')

const HOST = '127.0.0.1'

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, HOST, () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

function listen(app) {
  return new Promise((resolve, reject) => {
    const server = app.listen(0, HOST)
    server.once('listening', () => resolve(server))
    server.once('error', reject)
  })
}

function closeServer(server) {
  if (!server) return Promise.resolve()
  return new Promise((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections?.()
  })
}

let plc, plcServer, pds, pdsServer, dataDir
let stopping = false

async function stop(code = 0) {
  if (stopping) return
  stopping = true
  // Never hang on shutdown: the fixture waits for us.
  setTimeout(() => process.exit(code), 5000).unref()
  try {
    await closeServer(pdsServer)
    if (pds) await pds.destroy()
    await closeServer(plcServer)
    if (plc) await plc.ctx.db.close()
  } catch (err) {
    process.stderr.write(`shutdown: ${err?.stack || err}\n`)
  }
  if (dataDir) await rm(dataDir, { recursive: true, force: true })
  process.exit(code)
}

process.on('SIGTERM', () => stop(0))
process.on('SIGINT', () => stop(0))
process.stdin.on('end', () => stop(0))
process.stdin.on('close', () => stop(0))
process.stdin.on('error', () => stop(0))
process.stdin.resume()

async function main() {
  // PLC directory: in memory, on its own loopback port.
  plc = PlcServer.create({ db: PlcDatabase.mock() })
  plcServer = await listen(plc.app)
  plc.server = plcServer
  const plcUrl = `http://${HOST}:${plcServer.address().port}`

  dataDir = await mkdtemp(path.join(tmpdir(), 'veille-pds-'))
  const port = await freePort()
  const rotationKey = await Secp256k1Keypair.create({ exportable: true })
  const adminPassword = randomBytes(16).toString('hex')
  const env = {
    port,
    hostname: 'localhost', // → handles end in ".test", public URL http://localhost:PORT
    devMode: true, // PDS_DEV_MODE=true
    inviteRequired: false, // PDS_INVITE_REQUIRED=false
    dataDirectory: dataDir,
    blobstoreDiskLocation: path.join(dataDir, 'blobs'),
    didPlcUrl: plcUrl,
    // Rate limits on, as in production, so responses carry ratelimit-* headers.
    rateLimitsEnabled: true,
    // Tests may set PDS_JWT_SECRET to mint tokens (an expired access JWT, say).
    jwtSecret: process.env.PDS_JWT_SECRET || randomBytes(16).toString('hex'),
    adminPassword,
    plcRotationKeyK256PrivateKeyHex: Buffer.from(await rotationKey.export()).toString('hex'),
    crawlers: [],
  }
  pds = await PDS.create(envToCfg(env), envToSecrets(env))
  // PDS.start() binds every interface; do its work by hand on loopback only.
  await pds.ctx.sequencer.start()
  pdsServer = await new Promise((resolve, reject) => {
    const server = pds.app.listen(port, HOST)
    server.keepAliveTimeout = 90000
    server.once('listening', () => resolve(server))
    server.once('error', reject)
  })
  pds.server = pdsServer

  process.stdout.write(
    JSON.stringify({
      pds: `http://${HOST}:${port}`,
      plc: plcUrl,
      admin_password: adminPassword,
    }) + '\n',
  )
}

main().catch((err) => {
  process.stderr.write(`pds.mjs: ${err?.stack || err}\n`)
  stop(1)
})
