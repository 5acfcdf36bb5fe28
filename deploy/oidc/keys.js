// Signing keys of the dev/test OpenID Provider: an RS256 JWK Set in a file (private keys, never
// committed). The first key signs; the others are still published in the JWKS so that tokens
// signed before a rotation stay verifiable.
//
//   node deploy/oidc/keys.js new FILE      write a key set with one fresh key (fails if FILE exists)
//   node deploy/oidc/keys.js rotate FILE   put a fresh key in front of FILE's keys (creates FILE)
//   node deploy/oidc/keys.js kids FILE     print the kids of FILE, signing key first
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

// A fresh RSA 2048 private JWK for RS256; its kid is its RFC 7638 thumbprint.
export function newKey() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  const canonical = JSON.stringify({ e: jwk.e, kty: jwk.kty, n: jwk.n });
  const kid = crypto.createHash('sha256').update(canonical).digest('base64url');
  return { kid, use: 'sig', alg: 'RS256', ...jwk };
}

export function readKeys(file) {
  const jwks = JSON.parse(fs.readFileSync(file, 'utf8'));
  if (!Array.isArray(jwks.keys) || jwks.keys.length === 0) {
    throw new Error(`${file}: not a JWK Set with at least one key`);
  }
  for (const key of jwks.keys) {
    if (key.kty !== 'RSA' || !key.d || !key.kid) {
      throw new Error(`${file}: every key must be a private RSA key with a kid`);
    }
  }
  return jwks;
}

export function writeKeys(file, jwks) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(jwks, null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

// The key set in FILE, written with one fresh key first when FILE does not exist.
export function loadOrCreateKeys(file) {
  if (!fs.existsSync(file)) {
    writeKeys(file, { keys: [newKey()] });
    console.log(`oidc: generated a signing key in ${file}`);
  }
  return readKeys(file);
}

function main(argv) {
  const [command, file] = argv;
  if (!file || !['new', 'rotate', 'kids'].includes(command)) {
    console.error('usage: node keys.js new|rotate|kids FILE');
    return 2;
  }
  switch (command) {
    case 'new':
      if (fs.existsSync(file)) {
        console.error(`${file} exists`);
        return 1;
      }
      writeKeys(file, { keys: [newKey()] });
      break;
    case 'rotate': {
      const old = fs.existsSync(file) ? readKeys(file).keys : [];
      writeKeys(file, { keys: [newKey(), ...old] });
      break;
    }
    default:
      break;
  }
  for (const key of readKeys(file).keys) console.log(key.kid);
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
