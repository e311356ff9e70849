// `majority-vote`: a label-free self-reward from agreement. Each candidate's
// final answer is extracted from its trajectory; its score is the share of the
// pool that reached the same answer (answers compared by
// genius::normalize_answer: "15.0" == "15").
//   score = |{j in pool : answer_j == answer_i}| / |pool|   (0 without an answer)
//   A     = score - q(parent beam)
#include <map>
#include <string>
#include <vector>

#include <genius/error.hpp>
#include <genius/helpers/answer.hpp>
#include <genius/registration.hpp>
#include <genius/value_estimator.hpp>

namespace {

class MajorityVoteValue final : public genius::ValueEstimator {
 public:
  static const genius::PluginManifest& manifest() {
    static const auto m =
        genius::PluginManifest(genius::PluginKind::ValueEstimator, "majority-vote", "1.0.0",
                               "share of the pool whose final answer equals the candidate's (0 without an "
                               "answer); A = score - q(parent)")
            .key("answer_pattern", "",
                 "ECMAScript regex whose first group (of the last match) is the answer; \"\" = the last \\boxed{}");
    return m;
  }

  explicit MajorityVoteValue(const genius::ConfigView& cfg)
      : extract_(genius::plugin_answer_extractor("majority-vote", cfg.get<std::string>("answer_pattern"))) {}

  // Sets each candidate's `answer` (as extracted, "" = none) as well.
  void score(const genius::Query&, std::vector<genius::Candidate>& candidates,
             const std::vector<double>& /*parent_values*/, genius::ModelBackend&) override {
    std::map<std::string, int> votes;
    std::vector<std::string> key(candidates.size());
    for (std::size_t i = 0; i < candidates.size(); ++i) {
      candidates[i].answer = extract_(candidates[i].trajectory).value_or("");
      if (candidates[i].answer.empty()) continue;
      key[i] = genius::normalize_answer(candidates[i].answer);
      ++votes[key[i]];
    }
    for (std::size_t i = 0; i < candidates.size(); ++i)
      candidates[i].score = candidates[i].answer.empty()
                                ? 0.0
                                : static_cast<double>(votes[key[i]]) / static_cast<double>(candidates.size());
  }

 private:
  genius::AnswerExtractor extract_;
};

}  // namespace

GENIUS_REGISTER_PLUGIN(MajorityVoteValue)
