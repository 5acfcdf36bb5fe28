// Validates an AsyncAPI document with the AsyncAPI Initiative's parser (the one its tools use):
// every diagnostic of severity error fails, warnings are printed.
import { Parser, fromFile } from '@asyncapi/parser';

const path = process.argv[2];
const parser = new Parser();
const { document, diagnostics } = await fromFile(parser, path).parse();
const severities = ['error', 'warning', 'information', 'hint'];
let errors = 0;
for (const d of diagnostics) {
  const severity = severities[d.severity] ?? String(d.severity);
  if (d.severity === 0) errors += 1;
  console.log(`${severity}: ${d.code} ${d.message} at ${(d.path ?? []).join('.')}`);
}
if (!document || errors > 0) {
  console.error(`${path}: ${errors} error(s)`);
  process.exit(1);
}
console.log(`${path}: valid AsyncAPI ${document.version()}, ${document.channels().length} channels, 0 errors`);
