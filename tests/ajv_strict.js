// Compile JSON Schemas with ajv in strict mode and validate documents against them.
//
// Usage: node ajv_strict.js SCHEMA_DIR [DOCUMENT ...]   (NODE_PATH must reach ajv@8)
//
// Every *.schema.json in SCHEMA_DIR is compiled with new Ajv2020({strict: true, allErrors: true})
// (strictSchema, strictNumbers, strictTypes, strictTuples and strictRequired all on); each
// DOCUMENT is validated against the schema whose "const" schema_name it carries. Prints one JSON
// line per schema and per document: {"kind", "file", "ok", "errors"}. Exit status 0 iff all ok.
"use strict";
const fs = require("fs");
const path = require("path");
const Ajv2020 = require("ajv/dist/2020");

const [schemaDir, ...documents] = process.argv.slice(2);
const byName = {};
let failed = false;

function report(kind, file, errors) {
  if (errors.length) failed = true;
  console.log(JSON.stringify({kind, file, ok: errors.length === 0, errors}));
}

for (const name of fs.readdirSync(schemaDir).filter((f) => f.endsWith(".schema.json")).sort()) {
  const file = path.join(schemaDir, name);
  // One Ajv instance per schema: a strict-mode failure of one cannot hide another's.
  const ajv = new Ajv2020({strict: true, allErrors: true});
  try {
    const schema = JSON.parse(fs.readFileSync(file, "utf8"));
    const validate = ajv.compile(schema);
    const documentName = schema.properties && schema.properties.schema_name
      && schema.properties.schema_name.const;
    if (documentName) byName[documentName] = validate;
    report("schema", file, []);
  } catch (error) {
    report("schema", file, [error.message]);
  }
}

for (const file of documents) {
  const document = JSON.parse(fs.readFileSync(file, "utf8"));
  const validate = byName[document.schema_name];
  if (!validate) {
    report("document", file, [`no compiled schema for schema_name ${document.schema_name}`]);
    continue;
  }
  const ok = validate(document);
  report("document", file, ok ? [] : validate.errors.map(
    (e) => `${e.instancePath || "(top level)"}: ${e.message}`));
}
process.exit(failed ? 1 : 0);
