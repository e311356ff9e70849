// Writes features/*.json, small tokenizer.json files that use what the real
// vocabularies do not (added-token flags, normalized added tokens, every Split
// behavior, the GPT-2 regex of ByteLevel, unk_token / byte_fallback,
// ignore_merges, the Oniguruma escapes), and features_expected.jsonl with what
// Hugging Face tokenizers makes of the texts below:
//   {"tokenizer", "text", "ids", "ids_special", "decoded", "decoded_skip"[, "deviation"]}
// where decoded = decode(ids, false) and decoded_skip = decode(ids_special, true);
// "deviation" says why our ids knowingly differ from HF's on that line.
//
//   node tests/data/tokenizer/generate_features.mjs HF_NODE_MODULES
//
// HF_NODE_MODULES holds Hugging Face's `tokenizers` package, the Node binding
// of the Rust library (npm install --prefix DIR tokenizers@0.23.2).
import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
if (!process.argv[2]) {
  console.error("usage: generate_features.mjs HF_NODE_MODULES (a folder with npm's tokenizers@0.23.2)");
  process.exit(2);
}
const require = createRequire(join(resolve(process.argv[2]), "noop.js"));
const { Tokenizer } = require("tokenizers");

// GPT-2's byte-to-unicode table.
const byteChar = [];
{
  let next = 256;
  for (let b = 0; b < 256; ++b) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    byteChar.push(String.fromCodePoint(printable ? b : next++));
  }
}
const mapped = (text) => Array.from(new TextEncoder().encode(text), (b) => byteChar[b]).join("");

// A byte-level vocabulary with the merges that spell `words` left to right.
function byteLevelModel(words, extra = {}) {
  const vocab = {};
  byteChar.forEach((c, i) => (vocab[c] = i));
  const merges = [];
  for (const word of words) {
    const chars = Array.from(mapped(word));
    let left = chars[0];
    for (const c of chars.slice(1)) {
      if (!(left + c in vocab)) {
        merges.push([left, c]);
        vocab[left + c] = Object.keys(vocab).length;
      }
      left += c;
    }
  }
  return { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
           fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges, ...extra };
}

// The id is given by tokenizer(): the token's id in the vocabulary, else the
// next free one, as HF gives it.
function added(content, flags = {}) {
  return { id: -1, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true, ...flags };
}

const byteLevel = (useRegex, addPrefixSpace = false) =>
  ({ type: "ByteLevel", add_prefix_space: addPrefixSpace, trim_offsets: true, use_regex: useRegex });
const split = (pattern, behavior, invert = false) =>
  ({ type: "Split", pattern, behavior, invert });
const splitThenBytes = (pattern, behavior, invert = false) =>
  ({ type: "Sequence", pretokenizers: [split(pattern, behavior, invert), byteLevel(false)] });

function tokenizer({ model, added_tokens = [], normalizer = null, pre_tokenizer = byteLevel(false),
                     post_processor = null, decoder = byteLevel(true) }) {
  let next = Object.keys(model.vocab).length;
  for (const token of added_tokens) token.id = model.vocab[token.content] ?? next++;
  for (const special of Object.values(post_processor?.special_tokens ?? {})) {
    special.ids = special.tokens.map((content) => added_tokens.find((t) => t.content === content).id);
  }
  return { version: "1.0", truncation: null, padding: null, added_tokens, normalizer, pre_tokenizer, post_processor,
           decoder, model };
}

// A tokenizer whose ids show where HF cuts pre-tokens. `make(model)` builds
// it around a model; HF first tokenizes `texts` with bytes alone (one token per
// byte, each with the index of its pre-token), then every pre-token seen
// becomes a whole entry of the vocabulary, taken whole by ignore_merges: a
// cut anywhere else gives byte ids instead.
async function observable(make, texts) {
  const probe = Tokenizer.fromString(JSON.stringify(make(byteLevelModel([]))));
  const model = { ...byteLevelModel([]), ignore_merges: true };
  for (const text of texts) {
    const encoding = await probe.encode(text, null, { addSpecialTokens: false });
    const [ids, tokens, words] = [encoding.getIds(), encoding.getTokens(), encoding.getWordIds()];
    const pieces = new Map();
    ids.forEach((id, i) => {
      if (id < 256) pieces.set(words[i], (pieces.get(words[i]) ?? "") + tokens[i]);
    });
    for (const piece of pieces.values()) {
      if (!(piece in model.vocab)) model.vocab[piece] = Object.keys(model.vocab).length;
    }
  }
  return make(model);
}

const words = ["hello", " the", " world", "ll", " 12", "  ", "'s", "abc"];
const gpt2Texts = ["hello the world", "hello", " hello", "  the", "it's 123 'S 's", "x\u0085!", "a  \n  b", "<s>hello</s>",
            "hello<s>the", "\u00e9t\u00e9 12 12", "", "  ", "'s's's", "\u4e2d\u6587 hello"];
const splitTexts = ["a1b22c333", "12ab", "ab12", "1-2--3", "---", "-a-", "x 1 y", "", " ", "a\u0661\u0662b"];

const features = {
  gpt2_regex_prefix_space: {
    tokenizer: tokenizer({
      model: byteLevelModel(words),
      added_tokens: [added("<s>"), added("</s>")],
      pre_tokenizer: byteLevel(true, true),
      post_processor: {
        type: "TemplateProcessing",
        single: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } },
                 { SpecialToken: { id: "</s>", type_id: 0 } }],
        pair: [{ Sequence: { id: "A", type_id: 0 } }, { Sequence: { id: "B", type_id: 1 } }],
        special_tokens: { "<s>": { id: "<s>", ids: [], tokens: ["<s>"] },
                          "</s>": { id: "</s>", ids: [], tokens: ["</s>"] } },
      },
    }),
    texts: gpt2Texts,
  },
  gpt2_regex_pre_tokens: {
    tokenizer: await observable((model) => tokenizer({ model, pre_tokenizer: byteLevel(true, true) }), gpt2Texts),
    texts: gpt2Texts,
  },
  added_token_flags: {
    tokenizer: tokenizer({
      model: byteLevelModel(words),
      normalizer: { type: "NFKC" },
      added_tokens: [
        added("[L]", { lstrip: true }),
        added("[R]", { rstrip: true }),
        added("[W]", { single_word: true, special: false }),
        added("[LR]", { lstrip: true, rstrip: true }),
        added("hello", { normalized: true, special: false }),
        added("\ufb01", { normalized: true, special: false }),
        added("<a"),
        added("<ab>"),
        added("<abc>"),
        added("\u00e9", { special: false }),
        added("<a b>", { special: false }),
        added("\ufb02", { normalized: true }),  // special, but decoded as "fl", which is not: never skipped
        added("\uff38", { normalized: true, special: false }),
      ],
    }),
    texts: ["x [L] y", "x   [L]y", "x\u3000\u00a0[L]", "[L]", "x [R]   y", "x[R]\n\ny", "[R] ", "x  [LR]  y",
            "a[W]b", "a [W] b", "[W]", "[W]x", "_[W]", "\u00e9[W]", "x\u0301[W]", "1[W]", "-[W]-", "[W] [W]",
            "\u00bd[W]", "\u24b6[W]", "\u200c[W]", "\u203f[W]", "\u3251[W]", "[W]\u0301", "[W]\u0663", "\u216b[W]",
            "hello", "\uff48\uff45\uff4c\uff4c\uff4f", "say hello!", "\ufb01", "fi", "\ufb01ne", "<abc>", "<ab>", "<a",
            "<ab", "<a b>", "<<abc>>", "caf\u00e9", "cafe\u0301", "[L][R][LR]", "  [LR][LR]  ", "[L ]", "",
            "\ufb02", "fl", "\uff38", "X", "a\ufb02\uff38b"],
  },
  split_isolated_invert: {
    tokenizer: await observable((model) => tokenizer({ model, pre_tokenizer: splitThenBytes({ Regex: "\\d+" }, "Isolated", true) }),
                                splitTexts),
    texts: splitTexts,
  },
  split_removed: {
    tokenizer: await observable((model) => tokenizer({ model, pre_tokenizer: splitThenBytes({ String: "-" }, "Removed") }),
                                splitTexts),
    texts: splitTexts,
  },
  split_merged_with_previous: {
    tokenizer: await observable((model) => tokenizer({ model, pre_tokenizer: splitThenBytes({ Regex: "\\d+" }, "MergedWithPrevious") }),
                                splitTexts),
    texts: splitTexts,
  },
  split_merged_with_next: {
    tokenizer: await observable((model) => tokenizer({ model, pre_tokenizer: splitThenBytes({ Regex: "\\d" }, "MergedWithNext") }),
                                splitTexts),
    texts: splitTexts,
  },
  split_contiguous: {
    tokenizer: await observable((model) => tokenizer({ model, pre_tokenizer: splitThenBytes({ String: "-" }, "Contiguous") }),
                                splitTexts),
    texts: splitTexts,
  },
  ignore_merges: {
    tokenizer: tokenizer({
      model: { ...byteLevelModel(["ab"]), ignore_merges: true },
      pre_tokenizer: splitThenBytes({ Regex: "\\s" }, "Removed"),
    }),
    texts: ["abc", "ab", "abcab c"],
  },
  char_bpe_unk_fuse_byte_fallback: {
    tokenizer: tokenizer({
      model: { type: "BPE", unk_token: "<unk>", fuse_unk: true, byte_fallback: true,
               vocab: { "<unk>": 0, a: 1, b: 2, c: 3, e: 4, ab: 5, abc: 6, "<0x41>": 7, "<0xCC>": 8, "<0x81>": 9 },
               merges: [["a", "b"], ["ab", "c"]] },
      normalizer: { type: "Sequence", normalizers: [{ type: "NFD" }] },
      pre_tokenizer: split({ Regex: "\\s+" }, "Removed"),
      decoder: null,
    }),
    texts: ["abc", "abx", "xyz abc", "A\u00e9", "\u00e9", "Bxy", "ab  c", "", "abcabc"],
  },
  char_bpe_unk: {
    tokenizer: tokenizer({
      model: { type: "BPE", unk_token: "<unk>", fuse_unk: false, vocab: { "<unk>": 0, a: 1, b: 2, ab: 3 },
               merges: ["a b"] },
      pre_tokenizer: null,
      decoder: null,
    }),
    texts: ["ab", "abxyab", "xy", "a b"],
  },
  char_bpe_no_unk: {
    tokenizer: tokenizer({
      model: { type: "BPE", vocab: { a: 0, b: 1, ab: 2 }, merges: ["a b"] },
      pre_tokenizer: null,
      decoder: null,
    }),
    texts: ["ab", "abxyab", "xy", "a\u00e9b"],
  },
};

// The escapes whose meaning differs between Oniguruma and PCRE2.
const escapeText = "Hello_World 123 \u01c5x x\u0301y \u0663 abcDEF9 \u00bd \u216b \u00a0\u0085\u2028|\u203f\u200c\ufeff" +
                   "STRASSE stra\u00dfe \u017fS \u212a";
// One character of each kind where Oniguruma's classes and PCRE2's differ,
// each between two '|' so that every one is a match or a cut of its own.
const categoryText = ["A", "a", "\u01c5", "\u02b0", "\u4e2d", "\u0301", "\u0903", "\u20dd", "\u0663", "\u216b",
                      "\u00bd", "\u00b2", "\u00b9", "\u3251", "_", "\u203f", "-", "\u200c", "\u200d", "\ufeff",
                      "\u24b6", "^", "+", "\u00a0", "\u0085", "\u0001", "\u0345", "\u212a", "\u0e33", "\u00a9",
                      "\u{1f600}", "\u20ac", "\u00ab", "\u3002", "\u3007", "\u{1d7d9}", "\u00ad", "\u00df", "\u00aa",
                      "\u00b5", "\u00d7", "\u00f7", "\u0378", "\ue000"].join("|");
const patterns = { word: "\\w+", non_word: "\\W+", digit: "\\d+", non_digit: "\\D+", hex: "\\h+", non_hex: "\\H+",
                   space: "\\s+", non_space: "\\S+", class_word_space: "[\\w\\s]+", class_non_space: "[^\\S\\n]+",
                   upper: "\\p{Lu}+", caseless: "(?i:s|k)+", caseless_multi: "(?i:stra\u00dfe)",
                   lookahead: "\\s+(?!\\S)", line_anchor: "^\\w", class_word: "[\\w]+", class_digit: "[\\d.]+",
                   class_letters_numbers: "[^\\r\\n\\p{L}\\p{N}]+", posix_alpha: "[[:alpha:]]+",
                   posix_alnum: "[[:alnum:]]+", posix_word: "[[:word:]]+", posix_digit: "[[:digit:]]+",
                   posix_space: "[[:space:]]+", posix_upper: "[[:upper:]]+", posix_lower: "[[:lower:]]+",
                   posix_punct: "[[:punct:]]+" };
// Where our PCRE2 translation knowingly differs from Oniguruma; the test
// checks only that these lines decode back to their text.
const deviations = {
  caseless_multi: "Oniguruma folds case across lengths ((?i:\u00df) matches \"SS\"); PCRE2 folds one character " +
                  "to one. No tokenizer pattern we know of depends on it.",
};
for (const [name, pattern] of Object.entries(patterns)) {
  const texts = [escapeText, categoryText, "a\nb\nc", "__", ""];
  features[`regex_${name}`] = {
    tokenizer: await observable(
        (model) => tokenizer({ model, pre_tokenizer: splitThenBytes({ Regex: pattern }, "Isolated") }), texts),
    texts,
    deviation: deviations[name],
  };
}

mkdirSync(join(here, "features"), { recursive: true });
const lines = [];
for (const [name, feature] of Object.entries(features)) {
  const file = join(here, "features", `${name}.json`);
  writeFileSync(file, JSON.stringify(feature.tokenizer, null, 1) + "\n");
  const hf = Tokenizer.fromFile(file);
  for (const text of feature.texts) {
    const ids = Array.from((await hf.encode(text, null, { addSpecialTokens: false })).getIds());
    const idsSpecial = Array.from((await hf.encode(text, null, { addSpecialTokens: true })).getIds());
    const record = { tokenizer: name, text, ids, ids_special: idsSpecial, decoded: await hf.decode(ids, false),
                     decoded_skip: await hf.decode(idsSpecial, true) };
    if (feature.deviation && text === escapeText) record.deviation = feature.deviation;
    lines.push(JSON.stringify(record));
  }
}
writeFileSync(join(here, "features_expected.jsonl"), lines.join("\n") + "\n");
console.error(`wrote ${Object.keys(features).length} tokenizers and ${lines.length} lines`);
