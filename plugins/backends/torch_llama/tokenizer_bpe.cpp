#include "tokenizer_bpe.hpp"

#include <algorithm>
#include <cstdio>
#include <queue>
#include <stdexcept>

#include "tokenizer_unicode.hpp"

namespace genius::llama::detail {

BpeModel::BpeModel(BpeConfig config) : vocab_(std::move(config.vocab)) {
  options_ = std::move(config);
  options_.vocab.clear();

  int32_t max_id = -1;
  for (const auto& [token, id] : vocab_) {
    if (id < 0) throw std::invalid_argument("token '" + token + "' has a negative id");
    max_id = std::max(max_id, id);
  }
  id_to_token_.resize(static_cast<std::size_t>(max_id) + 1);
  has_id_.assign(id_to_token_.size(), false);
  bmp_char_ids_.assign(0x10000, -1);
  for (const auto& [token, id] : vocab_) {
    id_to_token_[static_cast<std::size_t>(id)] = token;
    has_id_[static_cast<std::size_t>(id)] = true;
    char32_t cp = 0;
    if (!token.empty() && utf8_char_at(token, 0, &cp) == token.size() && cp < 0x10000) bmp_char_ids_[cp] = id;
  }

  // As HF: every merge must name two tokens of the vocabulary and make a third
  // one; a pair listed twice keeps its later rank.
  merges_.reserve(options_.merges.size());
  for (std::size_t rank = 0; rank < options_.merges.size(); ++rank) {
    // Named references, not a structured binding: a lambda may not capture one in C++17 (clang refuses).
    const std::string& a = options_.merges[rank].first;
    const std::string& b = options_.merges[rank].second;
    const auto lookup = [&](const std::string& token) {
      const auto it = vocab_.find(token);
      if (it == vocab_.end()) {
        throw std::invalid_argument("merge " + std::to_string(rank + 1) + " \"" + a + " " + b + "\" names token '" +
                                    token + "' that is not in the vocabulary");
      }
      return it->second;
    };
    const int32_t a_id = lookup(a);
    const int32_t b_id = lookup(b);
    const int32_t new_id = lookup(a + b);
    merges_[pair_key(a_id, b_id)] = Merge{static_cast<uint32_t>(rank), new_id};
  }
  options_.merges.clear();
  options_.merges.shrink_to_fit();

  if (options_.unk_token) {
    const auto it = vocab_.find(*options_.unk_token);
    if (it == vocab_.end()) {
      throw std::invalid_argument("unk_token '" + *options_.unk_token + "' is not in the vocabulary");
    }
    unk_id_ = it->second;
  }
}

std::optional<int32_t> BpeModel::token_to_id(std::string_view token) const {
  const auto it = vocab_.find(std::string(token));
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::id_to_token(int32_t id) const {
  if (id < 0 || id >= size() || !has_id_[static_cast<std::size_t>(id)]) return nullptr;
  return &id_to_token_[static_cast<std::size_t>(id)];
}

std::vector<std::pair<int32_t, int32_t>> BpeModel::merges() const {
  std::vector<std::pair<uint32_t, uint64_t>> by_rank;
  by_rank.reserve(merges_.size());
  for (const auto& [key, merge] : merges_) by_rank.emplace_back(merge.rank, key);
  std::sort(by_rank.begin(), by_rank.end());
  std::vector<std::pair<int32_t, int32_t>> out;
  out.reserve(by_rank.size());
  for (const auto& entry : by_rank) {
    out.emplace_back(static_cast<int32_t>(entry.second >> 32), static_cast<int32_t>(entry.second & 0xFFFFFFFFu));
  }
  return out;
}

std::optional<int32_t> BpeModel::char_id(std::string_view ch) const {
  char32_t cp = 0;
  if (utf8_char_at(ch, 0, &cp) == ch.size() && cp < 0x10000) {
    const int32_t id = bmp_char_ids_[cp];
    if (id < 0) return std::nullopt;
    return id;
  }
  return token_to_id(ch);
}

void BpeModel::tokenize(std::string_view word, std::vector<int32_t>& ids) const {
  if (word.empty()) return;
  if (options_.ignore_merges) {
    if (const auto id = token_to_id(word)) {
      ids.push_back(*id);
      return;
    }
  }
  const bool cacheable = word.size() <= kMaxCachedWordBytes;
  std::string key;
  if (cacheable) {
    key.assign(word);
    std::lock_guard<std::mutex> lock(cache_mutex_);
    const auto it = cache_.find(key);
    if (it != cache_.end()) {
      ids.insert(ids.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const std::size_t first = ids.size();
  merge_word(word, ids);
  if (cacheable) {
    std::vector<int32_t> value(ids.begin() + static_cast<std::ptrdiff_t>(first), ids.end());
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (cache_.size() >= kCacheCapacity) cache_.clear();
    cache_.emplace(std::move(key), std::move(value));
  }
}

// BPE on one word, as HF's Word::merge_all: every adjacent pair that is a merge
// goes into a min-heap keyed by (rank, position); the best pair is merged, the
// pairs it forms with its neighbours are pushed, and stale heap entries (whose
// symbols have changed since) are skipped. O(n log n) in the word's length.
void BpeModel::merge_word(std::string_view word, std::vector<int32_t>& ids) const {
  struct Symbol {
    int32_t id;
    int32_t prev;
    int32_t next;
    bool alive;
  };
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  const auto add = [&symbols](int32_t id) {
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back(Symbol{id, index - 1, -1, true});
    if (index > 0) symbols[static_cast<std::size_t>(index - 1)].next = index;
  };

  bool pending_unk = false;  // an unknown character waits to be added (fuse_unk)
  for (std::size_t i = 0; i < word.size();) {
    char32_t cp = 0;
    std::size_t n = utf8_char_at(word, i, &cp);
    if (n == 0) n = 1;  // a byte that is not UTF-8 is a character of its own
    const std::string_view ch = word.substr(i, n);
    i += n;
    if (const auto id = char_id(ch)) {
      if (pending_unk) add(*unk_id_);
      pending_unk = false;
      add(*id);
      continue;
    }
    if (options_.byte_fallback) {
      std::vector<int32_t> byte_ids;
      for (const char byte : ch) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", static_cast<unsigned>(static_cast<unsigned char>(byte)));
        if (const auto id = token_to_id(name)) byte_ids.push_back(*id);
      }
      if (byte_ids.size() == ch.size()) {
        if (pending_unk) add(*unk_id_);
        pending_unk = false;
        for (const int32_t id : byte_ids) add(id);
        continue;
      }
    }
    if (unk_id_) {
      if (pending_unk && !options_.fuse_unk) add(*unk_id_);
      pending_unk = true;
    }
    // without unk_token HF drops the character
  }
  if (pending_unk) add(*unk_id_);

  struct Candidate {
    uint32_t rank;
    int32_t pos;
    int32_t new_id;
    bool operator>(const Candidate& other) const { return rank != other.rank ? rank > other.rank : pos > other.pos; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
  const auto push_pair = [&](int32_t pos) {
    const Symbol& left = symbols[static_cast<std::size_t>(pos)];
    if (left.next < 0) return;
    const auto it = merges_.find(pair_key(left.id, symbols[static_cast<std::size_t>(left.next)].id));
    if (it != merges_.end()) queue.push(Candidate{it->second.rank, pos, it->second.new_id});
  };
  for (int32_t pos = 0; pos + 1 < static_cast<int32_t>(symbols.size()); ++pos) push_pair(pos);

  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = symbols[static_cast<std::size_t>(top.pos)];
    if (!left.alive || left.next < 0) continue;
    Symbol& right = symbols[static_cast<std::size_t>(left.next)];
    const auto it = merges_.find(pair_key(left.id, right.id));
    if (it == merges_.end() || it->second.new_id != top.new_id) continue;  // stale entry

    left.id = top.new_id;
    right.alive = false;
    left.next = right.next;
    if (right.next >= 0) symbols[static_cast<std::size_t>(right.next)].prev = top.pos;
    if (left.prev >= 0) push_pair(left.prev);
    push_pair(top.pos);
  }
  for (const Symbol& symbol : symbols) {
    if (symbol.alive) ids.push_back(symbol.id);
  }
}

}  // namespace genius::llama::detail
