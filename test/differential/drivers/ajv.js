// ajv: compiles the JSON Schema meta-schemas it ships (draft-07 and 2020-12)
// and validates real package manifests and the schemas themselves with them.
import Ajv from "ajv";
import Ajv2020 from "ajv/dist/2020.js";
import manifests from "corpus-files:*/package.json?max=6000";
import refs from "corpus-files:ajv/dist/refs/json-schema-draft-07.json,ajv/dist/refs/json-schema-secure.json,ajv/dist/refs/data.json";
import { attempt } from "./lib.js";

const manifestSchema = {
  type: "object",
  required: ["name", "version"],
  properties: {
    name: { type: "string", pattern: "^(@[a-z0-9-~][a-z0-9-._~]*/)?[a-z0-9-~][a-z0-9-._~]*$", maxLength: 214 },
    version: { type: "string", minLength: 5 },
    license: { anyOf: [{ type: "string" }, { type: "object", required: ["type"] }] },
    keywords: { type: "array", items: { type: "string" }, uniqueItems: true },
    dependencies: { type: "object", additionalProperties: { type: "string" } },
    engines: { type: "object", propertyNames: { enum: ["node", "npm", "yarn", "pnpm"] } },
    main: { type: "string", not: { pattern: "^/" } },
    type: { enum: ["module", "commonjs"] },
  },
  if: { properties: { type: { const: "module" } } },
  then: { required: ["exports"] },
};

export default function main() {
  const ajv = new Ajv({ allErrors: true, strict: false });
  const ajv2020 = new Ajv2020({ allErrors: true, strict: false });
  const results = { refs: {}, manifests: {} };
  for (const ref of refs) {
    const schema = JSON.parse(ref.text);
    results.refs[ref.path] = {
      valid: attempt(() => ajv.validateSchema(schema)),
      compiled: attempt(() => typeof ajv2020.compile({ ...schema, $schema: undefined, $id: undefined })),
    };
  }
  const validate = ajv.compile(manifestSchema);
  const validate2020 = ajv2020.compile({ ...manifestSchema, unevaluatedProperties: { not: { type: "number" } } });
  for (const file of manifests.slice(0, 20)) {
    let data;
    try {
      data = JSON.parse(file.text);
    } catch {
      continue;
    }
    const ok = validate(data);
    const ok2020 = validate2020(data);
    results.manifests[file.path] = {
      ok,
      errors: (validate.errors ?? []).map((e) => `${e.instancePath} ${e.keyword} ${e.message}`),
      ok2020,
      errors2020: (validate2020.errors ?? []).map((e) => `${e.instancePath} ${e.keyword}`),
    };
  }
  results.text = ajv.errorsText([{ instancePath: "/a", message: "bad", keyword: "type", params: {}, schemaPath: "" }]);
  return results;
}
