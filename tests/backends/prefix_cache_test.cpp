// The prefix cache (a radix tree of keys and values) and the generation
// engine with it: every way a foresight tree shares prefixes gives the same
// tokens as the engine without the cache, and the counters say what was
// computed and what was reused.
#include <numeric>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "generation.hpp"
#include "generation_test_util.hpp"
#include "llama_model.hpp"
#include "prefix_cache.hpp"

namespace genius::llama {
namespace {

// ------------------------------------------------------------ the tree alone

// Keys and values whose every entry is the token's position in the sequence
// times 1000 plus its id, so a returned segment says exactly which tokens it holds.
at::Tensor fake_kv(const std::vector<TokenId>& ids, std::int64_t from, std::int64_t to) {
  at::Tensor kv = at::zeros({1, 2, 1, to - from, 2});
  for (std::int64_t t = from; t < to; ++t) kv.select(3, t - from).fill_(double(t * 1000 + ids[std::size_t(t)]));
  return kv;
}

void insert(PrefixCache& cache, const std::vector<TokenId>& ids, int* asked = nullptr) {
  cache.insert(ids.data(), std::int64_t(ids.size()), [&](std::int64_t from, std::int64_t to) {
    if (asked) *asked += int(to - from);
    return fake_kv(ids, from, to);
  });
}

// The token values a match holds, in order.
std::vector<double> contents(const PrefixCache::Match& m) {
  std::vector<double> out;
  for (const auto& s : m.segments)
    for (std::int64_t t = 0; t < s.size(3); ++t) out.push_back(s.select(3, t)[0][0][0][0].item<double>());
  return out;
}

const std::int64_t kTokenBytes = 2 * 2 * 4;  // [1, 2, 1, 1, 2] floats

TEST(PrefixCache, LongestPrefixAcrossSplitEdges) {
  PrefixCache cache(1 << 20);
  insert(cache, {1, 2, 3, 4, 5});
  int asked = 0;
  insert(cache, {1, 2, 3, 9, 9}, &asked);  // splits the edge after 3
  EXPECT_EQ(asked, 2);                     // only the new tail is computed
  EXPECT_EQ(cache.tokens(), 7);
  EXPECT_EQ(cache.bytes(), 7 * kTokenBytes);
  const std::vector<TokenId> query = {1, 2, 3, 9, 7};
  const auto m = cache.lookup(query.data(), 5);
  EXPECT_EQ(m.tokens, 4);
  EXPECT_EQ(contents(m), (std::vector<double>{1, 1002, 2003, 3009}));
  const std::vector<TokenId> other = {1, 2, 3, 4, 5, 6};
  EXPECT_EQ(cache.lookup(other.data(), 3).tokens, 3);  // bounded by count
  EXPECT_EQ(cache.lookup(other.data(), 6).tokens, 5);
  const std::vector<TokenId> none = {2, 1};
  EXPECT_EQ(cache.lookup(none.data(), 2).tokens, 0);
  asked = 0;
  insert(cache, {1, 2, 3}, &asked);  // already inside an edge: nothing to add
  EXPECT_EQ(asked, 0);
  EXPECT_EQ(cache.tokens(), 7);
}

TEST(PrefixCache, EvictsLeastRecentlyUsedLeavesWithinTheBudget) {
  PrefixCache cache(8 * kTokenBytes);
  insert(cache, {1, 2, 3, 4});  // 4 tokens
  insert(cache, {5, 6, 7});     // 3 tokens
  const std::vector<TokenId> a = {1, 2, 3, 4};
  EXPECT_EQ(cache.lookup(a.data(), 4).tokens, 4);  // {1..4} is now the most recent
  insert(cache, {8, 9});                           // 9 > 8: {5,6,7} goes
  EXPECT_LE(cache.bytes(), cache.budget_bytes());
  EXPECT_EQ(cache.evicted_tokens(), 3);
  const std::vector<TokenId> b = {5, 6, 7};
  EXPECT_EQ(cache.lookup(b.data(), 3).tokens, 0);
  EXPECT_EQ(cache.lookup(a.data(), 4).tokens, 4);
  // Evicting a leaf makes its parent a leaf that can go in turn.
  insert(cache, {1, 2, 9, 9, 9, 9, 9, 9});
  EXPECT_LE(cache.bytes(), cache.budget_bytes());
  const std::vector<TokenId> c = {1, 2, 9, 9, 9, 9, 9, 9};
  EXPECT_GE(cache.lookup(c.data(), 8).tokens, 2);
}

TEST(PrefixCache, ABudgetTooSmallForOneSequenceKeepsItsLongestPrefixThatFits) {
  PrefixCache cache(3 * kTokenBytes);
  insert(cache, {1, 2, 3, 4, 5});
  EXPECT_EQ(cache.tokens(), 3);
  const std::vector<TokenId> q = {1, 2, 3, 4, 5};
  const auto m = cache.lookup(q.data(), 5);
  EXPECT_EQ(m.tokens, 3);
  EXPECT_EQ(contents(m), (std::vector<double>{1, 1002, 2003}));
  PrefixCache tiny(kTokenBytes - 1);  // not even one token
  insert(tiny, {1, 2});
  EXPECT_EQ(tiny.tokens(), 0);
  EXPECT_EQ(tiny.bytes(), 0);
}

// ------------------------------------------------------- with the engine

CausalLm model() {
  nlohmann::json j = {{"model_type", "llama"},
                      {"vocab_size", 37},
                      {"hidden_size", 32},
                      {"intermediate_size", 48},
                      {"num_hidden_layers", 2},
                      {"num_attention_heads", 4},
                      {"num_key_value_heads", 2},
                      {"rms_norm_eps", 1e-5},
                      {"rope_theta", 500.0},
                      {"tie_word_embeddings", true},
                      {"max_position_embeddings", 128}};
  torch::manual_seed(5);
  CausalLm m(ModelConfig::from_json(j, "test"));
  torch::NoGradGuard no_grad;
  for (auto& p : m->parameters()) p.normal_(0.0, 0.3);
  return m;
}

using test::decode;
using test::request;

GenerationOptions options(std::int64_t max_batch_rows = 0) {
  return test::options({}, max_batch_rows);
}

// The same calls through an engine with a cache and one without.
struct Twin {
  CausalLm m = model();
  PrefixCache cache;
  GenerationStats on, off;
  explicit Twin(std::int64_t budget = 64 << 20) : cache(budget) {}

  std::vector<GenerationResult> both(const std::vector<GenerationRequest>& requests) {
    GenerationOptions with = options(), without = options();
    with.prefix_cache = &cache;
    with.stats = &on;
    without.stats = &off;
    const auto a = generate(m, requests, with), b = generate(m, requests, without);
    for (std::size_t r = 0; r < requests.size(); ++r)
      for (std::size_t s = 0; s < a[r].samples.size(); ++s) {
        EXPECT_EQ(a[r].samples[s].token_ids, b[r].samples[s].token_ids) << "request " << r << " sample " << s;
        EXPECT_NEAR(a[r].samples[s].cumulative_logprob, b[r].samples[s].cumulative_logprob, 1e-4);
        EXPECT_EQ(a[r].samples[s].text, b[r].samples[s].text);
      }
    return a;
  }
};

std::vector<TokenId> concat(std::vector<TokenId> a, const std::vector<TokenId>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(PrefixCacheEngine, NSamplesOfOnePromptShareOnePrefill) {
  Twin t;
  t.both({request({3, 1, 4, 1, 5, 9, 2, 6}, 4, 1.0, 10, 7)});
  EXPECT_EQ(t.on.prefills, 1);
  EXPECT_EQ(t.on.prompt_tokens_computed, 8);
  EXPECT_EQ(t.on.prompt_tokens_reused, 0);
  EXPECT_EQ(t.on.generated_tokens, 40);
  EXPECT_EQ(t.on.decode_steps, 9);
  EXPECT_EQ(t.on.decode_rows, 36);  // finished rows leave: 4 rows x 9 steps
}

TEST(PrefixCacheEngine, CandidatesRolloutsAndTheNextStepReuseTheTree) {
  Twin t;
  const std::vector<TokenId> prompt = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3};
  // A step: candidates of the beam.
  const auto candidates = t.both({request(prompt, 3, 1.0, 6, 11)});
  EXPECT_EQ(t.on.prompt_tokens_reused, 0);
  // Rollouts: each candidate continued, greedy and sampled.
  std::vector<GenerationRequest> rollouts;
  for (const auto& c : candidates[0].samples) rollouts.push_back(request(concat(prompt, c.token_ids), 1, 0.0, 8, 3));
  rollouts.push_back(request(concat(prompt, candidates[0].samples[1].token_ids), 2, 1.0, 8, 4));
  const GenerationStats before = t.on;
  t.both(rollouts);
  const auto computed = t.on.prompt_tokens_computed - before.prompt_tokens_computed;
  const auto reused = t.on.prompt_tokens_reused - before.prompt_tokens_reused;
  // Prompt + candidate minus the candidate's last token (never fed) is cached.
  EXPECT_EQ(reused, 4 * (10 + 5));
  EXPECT_EQ(computed, 4);
  EXPECT_EQ(t.off.prompt_tokens_reused, 0);
  // The next step: the beam is a rollout prompt.
  const GenerationStats mid = t.on;
  t.both({request(rollouts[1].prompt_ids, 3, 1.0, 6, 12)});
  EXPECT_EQ(t.on.prompt_tokens_computed - mid.prompt_tokens_computed, 1);
}

TEST(PrefixCacheEngine, AnEvictedPrefixIsRecomputedTheSame) {
  // A budget for about one sequence: each new prompt evicts the last one.
  Twin t(256 * 25);  // 25 tokens of layers (2) x k,v x kv_heads (2) x head_dim (8) x float
  const std::vector<TokenId> a = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, b = {20, 21, 22, 23, 24, 25, 26, 27, 28};
  t.both({request(a, 1, 0.0, 12, 1)});
  t.both({request(b, 1, 0.0, 12, 1)});
  EXPECT_GT(t.cache.evicted_tokens(), 0);
  const GenerationStats before = t.on;
  t.both({request(a, 2, 1.0, 12, 2)});
  EXPECT_LT(t.on.prompt_tokens_reused - before.prompt_tokens_reused, 11);
  EXPECT_LE(t.cache.bytes(), t.cache.budget_bytes());
}

TEST(PrefixCacheEngine, ABudgetTooSmallForOneTokenStillGenerates) {
  Twin t(1);
  t.both({request({1, 2, 3}, 2, 1.0, 5, 1)});
  t.both({request({1, 2, 3}, 2, 1.0, 5, 1)});
  EXPECT_EQ(t.on.prompt_tokens_reused, 0);
  EXPECT_EQ(t.cache.bytes(), 0);
}

TEST(PrefixCacheEngine, ContinuousBatchingKeepsResultsAndFillsFreedRows) {
  CausalLm m = model();
  std::vector<GenerationRequest> requests;
  for (int i = 0; i < 6; ++i) requests.push_back(request({TokenId(i + 1), 2, 3}, 2, 1.0, 3 + 4 * i, 100 + i));
  GenerationStats all, limited;
  GenerationOptions unlimited = options(), four = options(4);
  unlimited.stats = &all;
  four.stats = &limited;
  const auto a = generate(m, requests, unlimited), b = generate(m, requests, four);
  for (std::size_t r = 0; r < requests.size(); ++r)
    for (std::size_t s = 0; s < 2; ++s) EXPECT_EQ(a[r].samples[s].token_ids, b[r].samples[s].token_ids);
  EXPECT_EQ(all.generated_tokens, limited.generated_tokens);
  EXPECT_LE(double(limited.decode_rows) / double(limited.decode_steps), 4.0);
  // Waiting requests fill freed rows: the steps stay over half full.
  EXPECT_GT(double(limited.decode_rows) / double(limited.decode_steps), 2.0);
  EXPECT_GT(limited.prefills, 1);
}

TEST(PrefixCacheEngine, IncrementalStopStringsMatchDecodingEverything) {
  CausalLm m = model();
  std::vector<GenerationRequest> requests;
  for (int i = 0; i < 8; ++i) {
    auto r = request({TokenId(3 + i), 4, 5}, 3, 1.0, 30, 40 + i);
    r.stop = {"\n", "ab", "zzq"};
    requests.push_back(r);
  }
  GenerationOptions whole = options(), streamed = options();
  streamed.make_stream = [] { return TextStream([](TokenId id) { return decode({id}); }); };
  const auto a = generate(m, requests, whole), b = generate(m, requests, streamed);
  int stopped = 0;
  for (std::size_t r = 0; r < requests.size(); ++r)
    for (std::size_t s = 0; s < 3; ++s) {
      EXPECT_EQ(a[r].samples[s].token_ids, b[r].samples[s].token_ids);
      EXPECT_EQ(a[r].samples[s].text, b[r].samples[s].text);
      EXPECT_EQ(a[r].samples[s].finish_reason, b[r].samples[s].finish_reason);
      stopped += a[r].samples[s].finish_reason == FinishReason::Stop;
    }
  EXPECT_GT(stopped, 3);
}

}  // namespace
}  // namespace genius::llama
