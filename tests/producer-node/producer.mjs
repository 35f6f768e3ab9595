// A Causeway producer written from docs/producers.md alone, with npm's
// official gRPC packages and Node's own crypto: no Causeway code. It
// writes an authorization (the approver's key), a credential for an agent
// (the issuer's key, with a fresh session key) and an action (that session
// key), each acknowledged before its child is sent, and checks each
// acknowledgement: the leaf hash is SHA-256(0x00 || entry) and the entry's
// inclusion proof leads to the root of the log's checkpoint (RFC 6962).
//
//   node producer.mjs --log 127.0.0.1:PORT --records-proto DIR \
//     --log-proto DIR --approver KEY.pem --issuer KEY.pem
//
// (the directories holding causeway/v1/records.proto and log.proto).
//
// Prints one JSON line: {"authorization":{index,leaf_hash}, "credential":…,
// "action":…, "tree_size":N}. Exits 1 with the log's message on a refusal.

import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';

const { values: args } = parseArgs({
  options: {
    log: { type: 'string' },
    'records-proto': { type: 'string' },
    'log-proto': { type: 'string' },
    approver: { type: 'string' },
    issuer: { type: 'string' },
  },
});
for (const name of ['log', 'records-proto', 'log-proto', 'approver', 'issuer']) {
  if (!args[name]) {
    console.error(`producer.mjs: --${name} is required`);
    process.exit(2);
  }
}

const PAYLOAD_TYPE = 'application/vnd.causeway.record.v1+protobuf';
const records = protobuf.loadSync(join(args['records-proto'], 'causeway/v1/records.proto'));
const Record = records.lookupType('causeway.v1.Record');
const Envelope = records.lookupType('causeway.v1.Envelope');

const sha256 = (...parts) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

// §1.5: the key ID is the lowercase hex SHA-256 of the DER SPKI.
const spki = (key) => createPublicKey(key).export({ type: 'spki', format: 'der' });
const keyId = (key) => sha256(spki(key)).toString('hex');

// §1.3: DSSE v1 pre-authentication encoding.
function pae(payload) {
  const head = `DSSEv1 ${Buffer.byteLength(PAYLOAD_TYPE)} ${PAYLOAD_TYPE} ${payload.length} `;
  return Buffer.concat([Buffer.from(head), payload]);
}

// §2: canonical encoding omits default scalars. protobufjs writes a field
// that is present even when it holds its default, so unset fields are left
// out of the objects below rather than set to 0, "" or false.
function time(ms) {
  const seconds = Math.floor(ms / 1000);
  const nanos = (ms % 1000) * 1e6;
  return nanos ? { seconds, nanos } : { seconds };
}

// §1.1–1.6: record → payload → PAE → DER ECDSA over SHA-256 → envelope.
function entry(kind, body, key) {
  const record = Record.fromObject({ [kind]: body });
  const payload = Buffer.from(Record.encode(record).finish());
  // Node's sign() returns DER (dsaEncoding 'der' is its default).
  const sig = sign('sha256', pae(payload), { key, dsaEncoding: 'der' });
  const envelope = Envelope.fromObject({
    payloadType: PAYLOAD_TYPE,
    payload,
    signatures: [{ keyid: keyId(key), sig }],
  });
  return Buffer.from(Envelope.encode(envelope).finish());
}

const log = protoLoader.loadSync(join(args['log-proto'], 'causeway/v1/log.proto'), {
  includeDirs: [args['log-proto']],
  longs: Number,
  // Empty repeated fields (a one-entry tree's proof path) as [] rather than absent.
  arrays: true,
  // Zero scalars (index 0) as 0 rather than absent: proto3 does not send them.
  defaults: true,
});
const Log = grpc.loadPackageDefinition(log).causeway.v1.Log;
const client = new Log(args.log, grpc.credentials.createInsecure());
const call = (method, request) =>
  new Promise((resolve, reject) =>
    client[method](request, (err, res) => (err ? reject(err) : resolve(res))),
  );

// RFC 6962 §2.1.1 / RFC 9162 §2.1.3.2: the root from a leaf and its path.
function rootFromInclusion(index, size, leaf, path) {
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of path) {
    if (sn === 0) throw new Error('inclusion proof too long');
    if (fn % 2 === 1 || fn === sn) {
      r = sha256(Buffer.from([1]), p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = sha256(Buffer.from([1]), r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new Error('inclusion proof too short');
  return r;
}

// §7 and §8: submit, then check what the log says it wrote.
async function submit(bytes) {
  const res = await call('AddEntries', { entries: [bytes] });
  const added = res.entries[0];
  const leaf = sha256(Buffer.from([0]), bytes);
  if (!added.duplicate && !Buffer.from(added.leafHash).equals(leaf)) {
    throw new Error(`the log returned leaf hash ${Buffer.from(added.leafHash).toString('hex')}`);
  }
  const checkpoint = await call('GetCheckpoint', {});
  const proof = await call('GetInclusionProof', {
    leafHash: added.leafHash,
    treeSize: checkpoint.treeSize,
  });
  const root = rootFromInclusion(
    Number(proof.leafIndex),
    Number(proof.treeSize),
    Buffer.from(added.leafHash),
    proof.hashes.map((h) => Buffer.from(h)),
  );
  if (!root.equals(Buffer.from(checkpoint.rootHash))) {
    throw new Error('the inclusion proof does not lead to the checkpoint root');
  }
  return { index: Number(added.index), leaf_hash: Buffer.from(added.leafHash), size: checkpoint.treeSize };
}

const approver = createPrivateKey(readFileSync(args.approver));
const issuer = createPrivateKey(readFileSync(args.issuer));
const now = Date.now();
const scope = {
  changeClass: 'standard',
  targets: ['github.com/acme/payments-service'],
  actions: ['git.push:branch/fix/*'],
};

try {
  const authorization = await submit(
    entry(
      'authorization',
      {
        approver: { subject: 'alice@example.com', issuer: 'https://login.example.com' },
        authn: { method: 'webauthn', mfa: true, assurance: 'aal2', authenticatedAt: time(now - 60_000) },
        plan: {
          objective: 'Fix rounding of ledger totals',
          method: 'Agent edits a branch and opens a pull request',
          testApproach: 'Unit tests and the full CI suite',
          backout: 'Close the pull request',
        },
        scope,
        ticket: 'CHG-NODE-1',
        notBefore: time(now - 30_000),
        notAfter: time(now + 3_600_000),
        time: time(now),
      },
      approver,
    ),
  );

  const { privateKey: session } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const credential = await submit(
    entry(
      'credential',
      {
        serial: 'node-1',
        agent: { id: 'agent:node-producer', model: 'example-model', version: '1' },
        authorization: authorization.leaf_hash,
        scope,
        sessionKey: spki(session),
        issuedAt: time(now),
        expiresAt: time(now + 1_800_000),
        time: time(now),
      },
      issuer,
    ),
  );

  const action = await submit(
    entry(
      'action',
      {
        credential: credential.leaf_hash,
        seq: 1,
        tool: 'git',
        target: 'github.com/acme/payments-service',
        summary: 'pushed branch fix/rounding',
        digest: 'sha256:' + sha256(Buffer.from('the diff')).toString('hex'),
        result: 'ok',
        time: time(now + 1000),
        operation: 'git.push:branch/fix/rounding',
      },
      session,
    ),
  );

  const out = (r) => ({ index: r.index, leaf_hash: r.leaf_hash.toString('hex') });
  console.log(
    JSON.stringify({
      authorization: out(authorization),
      credential: out(credential),
      action: out(action),
      tree_size: Number(action.size),
    }),
  );
  process.exit(0);
} catch (e) {
  console.error(`producer.mjs: ${e.code !== undefined ? `gRPC status ${e.code}: ` : ''}${e.details ?? e.message}`);
  process.exit(1);
}
