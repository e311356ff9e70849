// report.html: the page's content and escaping (unit), and — when
// GENIUS_CHROMIUM names a browser (tests/core/report_chromium_test.sh sets
// it) — a headless Chromium screenshot in which every chart's line colour
// must be present, in page order.
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <regex>
#include <stdexcept>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <genius/helpers/atomic_file.hpp>

#include "run/report.hpp"
#include "screenshot.hpp"

namespace genius::core {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::ColourStats;
using test::find_colour;
using test::Image;
using ::testing::HasSubstr;
using ::testing::Not;

// A "nan" or "inf" printed as a number (not inside a word like "dominant").
bool has_non_finite_number(const std::string& html) {
  static const std::regex number("(^|[^A-Za-z])-?(nan|inf)([^A-Za-z]|$)", std::regex::icase);
  return std::regex_search(html, number);
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

// Two iterations of 12 steps each (the step counter restarts), three evaluations.
struct Metrics {
  json summary = {{"name", "gsm8k-aco"},
                  {"status", "completed"},
                  {"wall_seconds", 3665.0},
                  {"iterations", 2},
                  {"stages", {{"eval-0", {{"seconds", 1}}}}},
                  {"eval", json::array()}};
  std::vector<json> steps;
  std::vector<json> evals;
  Metrics() {
    for (int it = 1; it <= 2; ++it)
      for (int s = 1; s <= 12; ++s) {
        const double t = (it - 1) * 12 + s;
        steps.push_back({{"iteration", it},
                         {"step", s},
                         {"loss", 0.69 * std::exp(-t / 15)},
                         {"rewards/chosen", 0.01 * t},
                         {"rewards/rejected", -0.01 * t},
                         {"rewards/margins", 0.02 * t},
                         {"rewards/accuracies", std::min(1.0, 0.4 + t / 40)},
                         {"lr", 1e-5}});
      }
    evals = {{{"iteration", 0}, {"greedy_accuracy", 0.30}, {"pass@1", 0.25}, {"items", 50}},
             {{"iteration", 1}, {"greedy_accuracy", 0.42}, {"pass@1", 0.36}, {"items", 50}},
             {{"iteration", 2}, {"greedy_accuracy", 0.48}, {"pass@1", 0.45}, {"items", 50}}};
  }
  std::string render(const std::string& config = "[run]\nname = \"gsm8k-aco\"\n") const {
    return render_report(summary, steps, evals, config);
  }
};

TEST(Report, HasTheHeaderEveryChartTheTablesAndTheConfig) {
  const std::string html = Metrics().render();
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_THAT(html, HasSubstr("<h1>gsm8k-aco</h1>"));
  EXPECT_THAT(html, HasSubstr(">completed</b>"));
  EXPECT_THAT(html, HasSubstr("1 h 01 min 05 s"));
  EXPECT_EQ(count(html, "<svg"), 4u) << "loss, rewards, reward accuracy, evaluation";
  EXPECT_EQ(count(html, "</svg>"), 4u);
  EXPECT_EQ(count(html, "<polyline"), 1u + 3u + 1u + 2u);
  for (const char* colour : {report_colours::kLoss, report_colours::kRewardsChosen, report_colours::kRewardsRejected,
                             report_colours::kRewardsMargins, report_colours::kRewardsAccuracies,
                             report_colours::kGreedyAccuracy, report_colours::kPassAt1})
    EXPECT_THAT(html, HasSubstr(std::string("stroke=\"") + colour + "\"")) << colour;
  EXPECT_THAT(html, HasSubstr("iteration 2")) << "a marker where the second iteration starts";
  EXPECT_THAT(html, HasSubstr("counted over all iterations")) << "steps restart, so the axis counts records";
  EXPECT_THAT(html, HasSubstr("<h2>Evaluation by iteration</h2>"));
  EXPECT_THAT(html, HasSubstr("<td>eval/greedy_accuracy</td><td>0.48</td>")) << "final metrics: the last evaluation";
  EXPECT_THAT(html, HasSubstr("<td>train/loss</td>"));
  EXPECT_THAT(html, HasSubstr("<td>iterations</td><td>2</td>")) << "other summary fields";
  EXPECT_THAT(html, Not(HasSubstr("<td>stages</td>"))) << "only scalar fields";
  EXPECT_THAT(html, HasSubstr("<pre>[run]\nname = &quot;gsm8k-aco&quot;\n</pre>"));
}

TEST(Report, IsSelfContained) {
  const std::string html = Metrics().render();
  EXPECT_THAT(html, HasSubstr("Content-Security-Policy\" content=\"default-src 'none'"));
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, Not(HasSubstr("src=")));
  EXPECT_THAT(html, Not(HasSubstr("href=")));
  EXPECT_THAT(html, Not(HasSubstr("url(")));
  EXPECT_EQ(count(html, "http://") + count(html, "https://"), count(html, "http://www.w3.org/2000/svg"))
      << "no address but the SVG namespace";
}

TEST(Report, EscapesEveryStringFromTheInputs) {
  Metrics m;
  const std::string evil = "<script>alert('x')</script>&\"";
  m.summary["name"] = evil;
  m.summary["status"] = evil;
  m.summary[evil] = evil;
  m.summary["final_metrics"] = {{evil, evil}};
  m.evals[0][evil] = evil;
  const std::string html = m.render("name = \"</pre><script>alert(1)</script>\"");
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, Not(HasSubstr("</pre><")));
  EXPECT_THAT(html, HasSubstr("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"));
  EXPECT_EQ(html_escape("a<b>&'\""), "a&lt;b&gt;&amp;&#39;&quot;");
}

TEST(Report, RunWithoutTrainingOrEvaluationShowsNoDataNotes) {
  const std::string html = render_report({{"name", "empty"}, {"status", "failed"}}, {}, {}, "");
  EXPECT_EQ(count(html, "<svg"), 0u) << "no empty or broken SVG";
  EXPECT_THAT(html, HasSubstr("No training steps recorded."));
  EXPECT_THAT(html, HasSubstr("No reward metrics recorded."));
  EXPECT_THAT(html, HasSubstr("No evaluation recorded."));
  EXPECT_THAT(html, HasSubstr("No metrics recorded."));
  EXPECT_THAT(html, HasSubstr("class=\"status bad\">failed</b>"));
  EXPECT_THAT(html, HasSubstr("wall time —"));
  // A summary that is not even an object still gives a page.
  EXPECT_THAT(render_report(json(), {}, {}, ""), HasSubstr("<h1>unnamed run</h1>"));
}

TEST(Report, EvaluationOnlyRunAndSinglePoints) {
  Metrics m;
  m.steps.clear();
  m.evals.resize(1);
  const std::string html = m.render();
  EXPECT_EQ(count(html, "<svg"), 1u) << "only the evaluation chart";
  EXPECT_EQ(count(html, "<circle"), 2u) << "one point per series is a marker";
  EXPECT_THAT(html, Not(HasSubstr(">-1</text>"))) << "the iteration axis starts at 0";
  EXPECT_THAT(html, HasSubstr(">1</text>"));
  EXPECT_FALSE(has_non_finite_number(html));
}

TEST(Report, AuditsGetAChartAcrossIterationsAndATableOfTheirHeadlineMetrics) {
  Metrics m;
  EXPECT_THAT(m.render(), Not(HasSubstr("Self-reward audit"))) << "no audit, no section";
  std::vector<json> audits;
  for (int it = 1; it <= 3; ++it)
    audits.push_back({{"iteration", it},
                      {"items", 100},
                      {"audit/value_auc", 0.8 + 0.01 * it},
                      {"audit/pair_precision", 0.7},
                      {"audit/pair_precision/greedy_wrong", it == 2 ? json(nullptr) : json(0.2 * it)},
                      {"audit/same_answer_pairs", 0.1},
                      {"audit/value_auc/step_1", 0.9},
                      {"audit/greedy_accuracy/level_2", 0.8},
                      {"<script>", "x"}});
  const std::string html = render_report(m.summary, m.steps, m.evals, "", audits);
  EXPECT_THAT(html, HasSubstr("Self-reward audit (labels used to measure only)"));
  EXPECT_THAT(html, HasSubstr("Self-reward audit by iteration (before training)"));
  for (const char* colour : {report_colours::kAuditValueAuc, report_colours::kAuditPairPrecision,
                             report_colours::kAuditPairPrecisionGreedyWrong, report_colours::kAuditSameAnswerPairs})
    EXPECT_THAT(html, HasSubstr(std::string("stroke=\"") + colour + "\"")) << colour;
  // A null metric is a gap, not a point: 3 + 3 + 2 + 3 markers in the audit chart.
  EXPECT_EQ(count(html, "audit/pair_precision/greedy_wrong = "), 2u);
  // The table leaves the per-step and per-level detail to summary.json, and escapes names.
  EXPECT_THAT(html, Not(HasSubstr("<th>audit/value_auc/step_1</th>")));
  EXPECT_THAT(html, Not(HasSubstr("<th>audit/greedy_accuracy/level_2</th>")));
  EXPECT_THAT(html, HasSubstr("<th>&lt;script&gt;</th>"));
  EXPECT_FALSE(has_non_finite_number(html));
}

TEST(Report, ExplorationsGetATableOfWhatEachModelGenerated) {
  Metrics m;
  EXPECT_THAT(m.render(), Not(HasSubstr("Exploration: generation by iteration"))) << "no exploration, no section";
  const json generation = {{"reported", true},
                           {"calls", 7},
                           {"prompt_tokens", 900},
                           {"prompt_tokens_computed", 300},
                           {"prompt_tokens_reused", 600},
                           {"prefix_cache_hit_rate", 0.666667},
                           {"generated_tokens", 1234},
                           {"decode_steps", 50},
                           {"avg_live_rows", 12.5},
                           {"kv_peak_mib", 3.25},
                           {"prefix_cache_evicted_tokens", 0}};
  std::vector<json> explores = {
      {{"iteration", 1}, {"queries", 16}, {"seconds", 2.5}, {"generation", generation}},
      {{"iteration", 2},
       {"queries", 16},
       {"seconds", 3.0},
       {"generation", {{"reported", false}, {"calls", 3}, {"prompt_tokens", 40}, {"generated_tokens", 99}}},
       {"critic", {{"generation", generation}}}}};
  const std::string html = render_report(m.summary, m.steps, m.evals, "", {}, explores);
  EXPECT_THAT(html, HasSubstr("Exploration: generation by iteration"));
  for (const char* header : {"prefill computed", "prefill reused", "cache hit rate", "avg live rows", "KV peak MiB"})
    EXPECT_THAT(html, HasSubstr(std::string("<th>") + header + "</th>")) << header;
  EXPECT_THAT(html, HasSubstr("<tr><td>1</td><td>policy</td><td>16</td><td>2.5</td><td>7</td><td>900</td>"
                              "<td>300</td><td>600</td><td>0.666667</td><td>1234</td><td>50</td><td>12.5</td>"
                              "<td>3.25</td><td>0</td></tr>"));
  // A backend that does not count: the host's numbers, the rest left blank.
  EXPECT_THAT(html, HasSubstr("<tr><td>2</td><td>policy</td><td>16</td><td>3</td><td>3</td><td>40</td><td>—</td>"));
  EXPECT_THAT(html, HasSubstr("<tr><td>2</td><td>critic</td><td>—</td><td>—</td><td>7</td>"));
  EXPECT_EQ(count(html, "<td>critic</td>"), 1u) << "iteration 1 has no critic";
}

TEST(Report, SkipsMissingAndNonFiniteValuesAndUsesAGlobalStepAxis) {
  std::vector<json> steps;
  for (int s = 1; s <= 5; ++s) steps.push_back({{"iteration", 1}, {"step", 10 * s}, {"loss", 1.0 / s}});
  steps[1]["loss"] = std::nan("");
  steps[2]["loss"] = "oops";
  steps[3].erase("loss");
  const std::string html = render_report({{"final_metrics", {{"loss", 0.2}}}}, steps, {}, "");
  EXPECT_EQ(count(html, "<circle"), 2u) << "two plottable losses";
  EXPECT_FALSE(has_non_finite_number(html));
  EXPECT_THAT(html, Not(HasSubstr("counted over all iterations"))) << "steps increase: x is the step";
  EXPECT_THAT(html, HasSubstr(">50</text>")) << "an x tick at the last step";
  EXPECT_THAT(html, HasSubstr("<td>loss</td><td>0.2</td>")) << "final_metrics from the summary";
  EXPECT_EQ(count(html, "<svg"), 1u) << "no reward data: only the loss chart";
}

// ------------------------------------------------ rendering in Chromium

class ReportScreenshot : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::getenv("GENIUS_CHROMIUM")) GTEST_SKIP() << "set GENIUS_CHROMIUM (tests/core/report_chromium_test.sh)";
  }
};

// A line across a 880-pixel-wide plot is well over 1000 pixels of its
// colour; a legend swatch is 42. Charts follow the page order top to bottom.
TEST_F(ReportScreenshot, EveryChartIsDrawnInPageOrder) {
  const Image image = test::screenshot(Metrics().render(), "full");
  ASSERT_EQ(image.width, 1200);
  ASSERT_EQ(image.height, 2000);
  const std::vector<std::pair<const char*, const char*>> lines = {
      {"loss", report_colours::kLoss},
      {"rewards/chosen", report_colours::kRewardsChosen},
      {"rewards/rejected", report_colours::kRewardsRejected},
      {"rewards/margins", report_colours::kRewardsMargins},
      {"rewards/accuracies", report_colours::kRewardsAccuracies},
      {"greedy_accuracy", report_colours::kGreedyAccuracy},
      {"pass@1", report_colours::kPassAt1}};
  std::map<std::string, ColourStats> found;
  for (const auto& [name, colour] : lines) {
    found[name] = find_colour(image, colour);
    std::cout << name << " " << colour << ": " << found[name].pixels << " pixels, mean row " << found[name].mean_y
              << "\n";
    EXPECT_GT(found[name].pixels, 500u) << name << " (" << colour << ") is not drawn";
  }
  EXPECT_LT(found["loss"].mean_y, found["rewards/margins"].mean_y);
  EXPECT_LT(found["rewards/margins"].mean_y, found["rewards/accuracies"].mean_y);
  EXPECT_LT(found["rewards/accuracies"].mean_y, found["greedy_accuracy"].mean_y);
  EXPECT_NEAR(found["greedy_accuracy"].mean_y, found["pass@1"].mean_y, 150) << "same chart";
}

TEST_F(ReportScreenshot, AnEmptyRunDrawsNoChartColour) {
  const Image image = test::screenshot(render_report({{"name", "empty"}, {"status", "failed"}}, {}, {}, ""), "empty");
  for (const char* colour : {report_colours::kLoss, report_colours::kRewardsMargins, report_colours::kRewardsAccuracies,
                             report_colours::kGreedyAccuracy, report_colours::kPassAt1})
    EXPECT_LT(find_colour(image, colour).pixels, 20u) << colour;
}

}  // namespace
}  // namespace genius::core
