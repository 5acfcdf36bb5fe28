// Type-checks a realm import file against Keycloak's representation types, as published by
// Keycloak's own admin client (@keycloak/keycloak-admin-client, lib/defs): the file becomes one
// TypeScript object literal `satisfies` the realm type, so a misspelt or misplaced field of the
// realm, a role, a client, a client scope or a protocol mapper, and a value of the wrong type, is
// a compile error (excess property checks). The user profile, a JSON text inside the realm, is
// checked the same way against UserProfileConfig.
//
// Three fields the admin client types loosely or not as an export writes them are typed here
// from Keycloak's Java representations: clientScopes (ClientScopeRepresentation[]), scopeMappings
// (ScopeMappingRepresentation: self, client, clientScope, roles) and components (a
// MultivaluedHashMap of ComponentExportRepresentation, whose config is a MultivaluedHashMap too).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const here = dirname(fileURLToPath(import.meta.url));
const path = resolve(process.argv[2]);
const realm = JSON.parse(readFileSync(path, 'utf8'));
const profiles = (realm.components?.['org.keycloak.userprofile.UserProfileProvider'] ?? [])
  .flatMap((c) => c.config?.['kc.user.profile.config'] ?? [])
  .map((text) => JSON.parse(text));

const defs = join(here, 'node_modules/@keycloak/keycloak-admin-client/lib/defs');
const source = `
import type RealmRepresentation from ${JSON.stringify(join(defs, 'realmRepresentation.js'))};
import type ClientScopeRepresentation from ${JSON.stringify(join(defs, 'clientScopeRepresentation.js'))};
import type { UserProfileConfig } from ${JSON.stringify(join(defs, 'userProfileMetadata.js'))};

interface ScopeMappingRepresentation {
  self?: string;
  client?: string;
  clientScope?: string;
  roles?: string[];
}
interface ComponentExportRepresentation {
  id?: string;
  name?: string;
  providerId?: string;
  subType?: string;
  subComponents?: Record<string, ComponentExportRepresentation[]>;
  config?: Record<string, string[]>;
}
type Realm = Omit<RealmRepresentation, 'clientScopes' | 'scopeMappings' | 'components'> & {
  clientScopes?: ClientScopeRepresentation[];
  scopeMappings?: ScopeMappingRepresentation[];
  components?: Record<string, ComponentExportRepresentation[]>;
};

export const realm = ${JSON.stringify(realm, null, 2)} satisfies Realm;
export const profiles = ${JSON.stringify(profiles, null, 2)} satisfies UserProfileConfig[];
`;

const dir = mkdtempSync(join(tmpdir(), 'realm-check-'));
try {
  const file = join(dir, 'realm.ts');
  writeFileSync(file, source);
  const program = ts.createProgram([file], {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    skipLibCheck: true,
  });
  const diagnostics = ts.getPreEmitDiagnostics(program);
  for (const d of diagnostics) {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (d.file && d.start !== undefined) {
      const { line } = d.file.getLineAndCharacterOfPosition(d.start);
      const text = d.file.text.split('\n')[line].trim();
      console.error(`error: ${message}\n  at: ${text}`);
    } else {
      console.error(`error: ${message}`);
    }
  }
  if (diagnostics.length > 0) {
    console.error(`${path}: ${diagnostics.length} error(s) against Keycloak's representation types`);
    process.exit(1);
  }
  console.log(`${path}: a RealmRepresentation (${realm.clients?.length ?? 0} clients, ` +
    `${realm.clientScopes?.length ?? 0} client scopes, ${profiles.length} user profile), 0 errors`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
