// The prefix cache of torch-llama's generation engine: keys and values of
// token sequences seen before, in a radix tree over token ids (SGLang's
// RadixAttention has the same shape), so a prompt that starts like an
// earlier prompt or an earlier generation prefills only what is new.
//
// Each edge holds a run of token ids and their keys and values as one tensor
// [layers, 2, kv_heads, tokens, head_dim] on the model's device (2 = key,
// value; rotary embeddings already applied: a cached token keeps its
// position, which is its index in the sequence). A lookup returns views of
// those tensors; the caller copies them into its batch, so nothing is
// referenced after a call returns and every entry can be evicted.
//
// Memory: at most `budget_bytes` of keys and values. When an insertion needs
// room, the least recently used leaves go first (a path's prefix outlives
// its extensions). What still does not fit is cut: the cache keeps the
// longest prefix of the new sequence that fits, or nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include <genius/types.hpp>

namespace genius::llama {

class PrefixCache {
 public:
  explicit PrefixCache(std::int64_t budget_bytes);
  ~PrefixCache();
  PrefixCache(const PrefixCache&) = delete;
  PrefixCache& operator=(const PrefixCache&) = delete;

  /// The longest cached prefix of ids[0, count): `segments` are its keys and
  /// values in order ([layers, 2, kv_heads, len, head_dim] views), their
  /// lengths summing to `tokens`.
  struct Match {
    std::int64_t tokens = 0;
    std::vector<at::Tensor> segments;
  };
  Match lookup(const TokenId* ids, std::int64_t count);

  /// Keys and values of tokens [from, to) of the sequence being inserted.
  using KvSource = std::function<at::Tensor(std::int64_t from, std::int64_t to)>;
  /// Caches ids[0, count); `kv` is asked only for the part not cached yet.
  void insert(const TokenId* ids, std::int64_t count, const KvSource& kv);

  void clear();
  std::int64_t budget_bytes() const { return budget_; }
  std::int64_t bytes() const { return bytes_; }
  std::int64_t tokens() const { return tokens_; }
  std::int64_t evicted_tokens() const { return evicted_tokens_; }

 private:
  struct Node {
    std::vector<TokenId> ids;  ///< the edge's tokens
    at::Tensor kv;             ///< [layers, 2, kv_heads, ids.size(), head_dim]
    Node* parent = nullptr;
    std::map<TokenId, std::unique_ptr<Node>> children;
    std::uint64_t last_use = 0;
  };

  void touch(Node* node);
  bool is_leaf(const Node* node) const { return node != &root_ && node->children.empty(); }
  Node* split(Node* node, std::size_t at);
  /// Frees room for `need` bytes, never evicting `keep`; returns the bytes free.
  std::int64_t make_room(std::int64_t need, const Node* keep);
  void evict(Node* leaf);

  std::int64_t budget_;
  std::int64_t bytes_ = 0, tokens_ = 0, evicted_tokens_ = 0;
  std::uint64_t clock_ = 0;
  Node root_;
  std::set<std::pair<std::uint64_t, Node*>> leaves_;  ///< by last use: eviction order
};

}  // namespace genius::llama
