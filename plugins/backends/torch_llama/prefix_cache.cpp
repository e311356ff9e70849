#include "prefix_cache.hpp"

#include <algorithm>

#include <ATen/ATen.h>

namespace genius::llama {

namespace {

std::int64_t bytes_of(const at::Tensor& t) {
  return t.defined() ? t.numel() * static_cast<std::int64_t>(t.element_size()) : 0;
}

constexpr std::int64_t kTokenDim = 3;  // [layers, 2, kv_heads, tokens, head_dim]

}  // namespace

PrefixCache::PrefixCache(std::int64_t budget_bytes) : budget_(std::max<std::int64_t>(0, budget_bytes)) {}

PrefixCache::~PrefixCache() = default;

void PrefixCache::clear() {
  root_.children.clear();
  leaves_.clear();
  bytes_ = 0;
  tokens_ = 0;
}

void PrefixCache::touch(Node* node) {
  const bool leaf = is_leaf(node);
  if (leaf) leaves_.erase({node->last_use, node});
  node->last_use = ++clock_;
  if (leaf) leaves_.insert({node->last_use, node});
}

PrefixCache::Match PrefixCache::lookup(const TokenId* ids, std::int64_t count) {
  Match match;
  Node* node = &root_;
  while (match.tokens < count) {
    const auto child = node->children.find(ids[match.tokens]);
    if (child == node->children.end()) break;
    Node* next = child->second.get();
    std::size_t same = 0;
    const auto left = static_cast<std::size_t>(count - match.tokens);
    while (same < next->ids.size() && same < left && next->ids[same] == ids[match.tokens + std::int64_t(same)]) ++same;
    match.segments.push_back(next->kv.narrow(kTokenDim, 0, static_cast<std::int64_t>(same)));
    match.tokens += static_cast<std::int64_t>(same);
    touch(next);
    if (same < next->ids.size()) break;
    node = next;
  }
  return match;
}

// Cuts `node`'s edge after `at` tokens: a new node holds the first part and
// becomes `node`'s parent. Both parts are copied so that evicting one frees
// its memory.
PrefixCache::Node* PrefixCache::split(Node* node, std::size_t at) {
  auto head = std::make_unique<Node>();
  const auto n = static_cast<std::int64_t>(at);
  head->ids.assign(node->ids.begin(), node->ids.begin() + static_cast<std::ptrdiff_t>(at));
  head->kv = node->kv.narrow(kTokenDim, 0, n).clone();
  head->parent = node->parent;
  head->last_use = node->last_use;
  at::Tensor tail = node->kv.narrow(kTokenDim, n, node->kv.size(kTokenDim) - n).clone();
  node->ids.erase(node->ids.begin(), node->ids.begin() + static_cast<std::ptrdiff_t>(at));
  node->kv = std::move(tail);
  Node* parent = node->parent;
  auto& slot = parent->children[head->ids.front()];
  std::unique_ptr<Node> owned = std::move(slot);  // == node
  node->parent = head.get();
  head->children[node->ids.front()] = std::move(owned);
  Node* result = head.get();
  slot = std::move(head);
  return result;
}

void PrefixCache::evict(Node* leaf) {
  leaves_.erase({leaf->last_use, leaf});
  bytes_ -= bytes_of(leaf->kv);
  tokens_ -= static_cast<std::int64_t>(leaf->ids.size());
  evicted_tokens_ += static_cast<std::int64_t>(leaf->ids.size());
  Node* parent = leaf->parent;
  parent->children.erase(leaf->ids.front());  // destroys `leaf`
  if (is_leaf(parent)) leaves_.insert({parent->last_use, parent});
}

std::int64_t PrefixCache::make_room(std::int64_t need, const Node* keep) {
  while (bytes_ + need > budget_) {
    auto oldest = leaves_.begin();
    if (oldest != leaves_.end() && oldest->second == keep) ++oldest;
    if (oldest == leaves_.end()) break;
    evict(oldest->second);
  }
  return budget_ - bytes_;
}

void PrefixCache::insert(const TokenId* ids, std::int64_t count, const KvSource& kv) {
  Node* node = &root_;
  std::int64_t done = 0;
  while (done < count) {
    const auto child = node->children.find(ids[done]);
    if (child == node->children.end()) break;
    Node* next = child->second.get();
    std::size_t same = 0;
    const auto left = static_cast<std::size_t>(count - done);
    while (same < next->ids.size() && same < left && next->ids[same] == ids[done + std::int64_t(same)]) ++same;
    if (same == left) {  // the whole sequence is cached already
      touch(next);
      return;
    }
    if (same < next->ids.size()) next = split(next, same);
    touch(next);
    done += static_cast<std::int64_t>(same);
    node = next;
  }
  if (done >= count) return;
  at::Tensor fresh = kv(done, count);
  const std::int64_t per_token = bytes_of(fresh) / std::max<std::int64_t>(1, count - done);
  const std::int64_t room = make_room(bytes_of(fresh), node);
  std::int64_t keep = count - done;
  if (room < bytes_of(fresh)) keep = per_token > 0 ? room / per_token : 0;
  if (keep <= 0) return;
  auto leaf = std::make_unique<Node>();
  leaf->ids.assign(ids + done, ids + done + keep);
  leaf->kv = fresh.narrow(kTokenDim, 0, keep).clone();
  leaf->parent = node;
  leaf->last_use = ++clock_;
  bytes_ += bytes_of(leaf->kv);
  tokens_ += keep;
  if (is_leaf(node)) leaves_.erase({node->last_use, node});
  leaves_.insert({leaf->last_use, leaf.get()});
  node->children[leaf->ids.front()] = std::move(leaf);
}

}  // namespace genius::llama
