// Byte-level BPE tokenizer of the torch-llama backend: loads a Hugging Face
// tokenizer.json (Llama 3.x, Qwen2/3, GPT-2 style) and encodes and decodes
// exactly as the Hugging Face `tokenizers` library does.
//
//   Tokenizer tok = Tokenizer::from_directory(model_dir);   // tokenizer.json (+ tokenizer_config.json)
//   std::vector<int32_t> ids = tok.encode("Hello world", /*add_special_tokens=*/true);
//   std::string text = tok.decode(ids, /*skip_special_tokens=*/true);
//
// The pipeline is the one of `tokenizers`:
//   1. added tokens (special or not) are cut out of the raw text, longest match
//      first, honouring their lstrip / rstrip / single_word / normalized flags;
//   2. the normalizer (none, NFC/NFD/NFKC/NFKD or a Sequence of them) runs on
//      the remaining pieces; added tokens with normalized=true are cut out next;
//   3. the pre-tokenizer (Split with a regex or a string, ByteLevel with or
//      without the GPT-2 regex, or a Sequence of them) splits each piece;
//   4. the BPE model merges each pre-token by rank (ignore_merges,
//      byte_fallback, unk_token honoured);
//   5. the post-processor (TemplateProcessing, ByteLevel or a Sequence) adds
//      the special tokens when asked to.
// Split patterns are Oniguruma regexes in HF; they run on PCRE2 here with \s,
// \w, \d, \h and the POSIX classes mapped to their Oniguruma meaning (\s is
// Unicode White_Space). Not mapped: Oniguruma's case folding across lengths
// ((?i:ß) matching "SS"), which no tokenizer pattern we know of relies on.
//
// Input that is not valid UTF-8 (which HF cannot take at all) is accepted: the
// bytes that are not UTF-8 never match a split pattern and are encoded as byte
// tokens, so with a byte-level vocabulary decode_bytes(encode(x)) == x for
// any bytes x.
//
// Only this header is public; tokenizer_*.hpp are internal to the library.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace genius::llama {

/// A Hugging Face byte-level BPE tokenizer. Immutable after loading: every
/// const member may be called from several threads at once (the pre-token
/// cache inside is locked). Movable, not copyable.
///
/// Every loading function throws std::runtime_error whose message starts with
/// the file (or the origin given) and says what is wrong: a missing file,
/// invalid JSON, an unsupported model / normalizer / pre-tokenizer /
/// post-processor / decoder type, a merge naming a token that is not in the
/// vocabulary, ...
class Tokenizer {
 public:
  /// Loads `tokenizer_json`, and `tokenizer_config_json` when given (it
  /// supplies bos_token, eos_token, add_bos_token and add_eos_token).
  static Tokenizer from_file(const std::filesystem::path& tokenizer_json,
                             const std::filesystem::path& tokenizer_config_json = {});
  /// Loads dir/tokenizer.json and, when it exists, dir/tokenizer_config.json.
  static Tokenizer from_directory(const std::filesystem::path& dir);
  /// Loads from JSON text; `origin` names the text in error messages.
  static Tokenizer from_json(std::string_view tokenizer_json, std::string_view tokenizer_config_json = {},
                             const std::string& origin = "tokenizer.json");

  /// A byte-level tokenizer without merges: ids 0..255 are the 256 bytes in
  /// byte order (each written with its GPT-2 byte-to-unicode character), then
  /// `special_tokens` get ids 256, 257, ... in the order given. `bos_token`
  /// and `eos_token`, when not empty, must be among `special_tokens`; they are
  /// only recorded (bos_id(), eos_id(), tokenizer_config.json), never added
  /// by encode(). Throws std::invalid_argument on an empty or repeated special
  /// token, or a bos/eos token that is not one of them.
  static Tokenizer byte_level(std::vector<std::string> special_tokens, const std::string& bos_token = {},
                              const std::string& eos_token = {});

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  /// Token ids of `text` (UTF-8). With add_special_tokens the post-processor
  /// adds its special tokens (Llama 3.1: <|begin_of_text|> in front), and so
  /// do add_bos_token / add_eos_token of tokenizer_config.json when the
  /// post-processor does not already. Special-token strings inside `text`
  /// always become their ids.
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = false) const;

  /// Text of `ids` as HF decodes it: the ByteLevel decoder turns the tokens
  /// back into bytes, and bytes that are not valid UTF-8 become U+FFFD, one
  /// per maximal ill-formed subsequence (Rust's from_utf8_lossy, Python's
  /// errors="replace"). Ids that name no token are skipped, as HF does.
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens = false) const;
  /// The bytes of `ids` before the UTF-8 check of decode(): not always UTF-8.
  std::string decode_bytes(const std::vector<int32_t>& ids, bool skip_special_tokens = false) const;

  /// Id of a token of the vocabulary or of the added tokens, as written in
  /// tokenizer.json (byte-level tokens use the GPT-2 characters: "Ġworld").
  std::optional<int32_t> token_to_id(std::string_view token) const;
  /// The token with this id; nullopt when no token has it.
  std::optional<std::string> id_to_token(int32_t id) const;
  /// Largest id + 1, added tokens included (Qwen3: 151669, Llama 3.1: 128256).
  int32_t vocab_size() const;
  /// Ids of tokenizer_config.json's bos_token / eos_token; nullopt when the
  /// config names none or was not given.
  std::optional<int32_t> bos_id() const;
  std::optional<int32_t> eos_id() const;
  /// True for the added tokens marked "special" (skipped by skip_special_tokens).
  bool is_special(int32_t id) const;
  /// True when decode() joins the tokens' bytes (the ByteLevel decoder), so
  /// that a Utf8StreamDecoder reproduces it token by token.
  bool streams_exactly() const;

  /// This tokenizer in the Hugging Face tokenizer.json format (model BPE with
  /// vocab and merges, added_tokens, normalizer, pre_tokenizer,
  /// post_processor, decoder): `tokenizers` loads it, and so does from_json.
  std::string to_tokenizer_json() const;
  /// A tokenizer_config.json with bos_token, eos_token, add_bos_token and
  /// add_eos_token, for transformers and for from_directory().
  std::string to_tokenizer_config_json() const;
  /// Writes dir/tokenizer.json and dir/tokenizer_config.json (creating dir).
  void save(const std::filesystem::path& dir) const;

  struct Impl;

 private:
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  static Tokenizer from_json_texts(std::string_view tokenizer_json, const std::string& origin,
                                   std::string_view tokenizer_config_json, const std::string& config_origin);
  std::unique_ptr<Impl> impl_;
};

/// Turns the ids of a generation, fed one at a time, into text: only complete
/// UTF-8 is returned; the bytes of a character split across tokens are held
/// until it completes. Bytes that cannot become valid UTF-8 are replaced by
/// U+FFFD exactly as Tokenizer::decode does, so the concatenation of all
/// push() results and finish() equals decode(all ids) (for tokenizers with the
/// ByteLevel decoder; without a decoder HF joins tokens with spaces, which a
/// token-by-token stream does not reproduce).
class Utf8StreamDecoder {
 public:
  /// `tokenizer` must outlive this decoder.
  explicit Utf8StreamDecoder(const Tokenizer& tokenizer, bool skip_special_tokens = false);

  /// Adds one token; returns the text it completes (often "", or more than
  /// the token's own text when it completes a held character).
  std::string push(int32_t id);
  /// End of the stream: returns the held bytes, as U+FFFD, and resets.
  std::string finish();
  /// Drops the held bytes.
  void reset();
  /// Bytes held back, waiting for the rest of a character.
  std::size_t pending_bytes() const { return pending_.size(); }

 private:
  const Tokenizer* tokenizer_;
  bool skip_special_tokens_;
  std::string pending_;
};

}  // namespace genius::llama
