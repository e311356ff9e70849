// Each loss plugin, loaded through the real plugin path, against an
// independent scalar implementation of algorithm.md §4: the loss value, its
// gradient w.r.t. the four log-prob inputs (hand-derived formulas), the
// TRL-named metrics, and edge values.
#include <cmath>
#include <functional>
#include <random>

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <genius/loss.hpp>

#include "config/config.hpp"
#include "plugins/checked_loss.hpp"
#include "plugins/plugin_registry.hpp"
#include "test_support.hpp"

namespace genius::core {
namespace {

using ::testing::HasSubstr;

// ----------------------------------------------------- reference (scalars)

struct Pair {
  double lp_w, lp_l, ref_w, ref_l;  // summed log-probs
  double len_w, len_l;              // response lengths in tokens
  double w_w, w_l;                  // advantages
};

struct Grad {
  double lp_w = 0, lp_l = 0, ref_w = 0, ref_l = 0;
};

double sigmoid(double z) {
  return z >= 0 ? 1.0 / (1.0 + std::exp(-z)) : std::exp(z) / (1.0 + std::exp(z));
}
double log_sigmoid(double z) {
  return z >= 0 ? -std::log1p(std::exp(-z)) : z - std::log1p(std::exp(z));
}

// Per-pair loss and its gradient; the batch loss is the mean of these.
using Reference = std::function<double(const Pair&, Grad&)>;

Reference dpo(double beta, double eps, bool reference_free = false) {
  return [=](const Pair& p, Grad& g) {
    const double rw = p.lp_w - (reference_free ? 0 : p.ref_w), rl = p.lp_l - (reference_free ? 0 : p.ref_l);
    const double z = beta * (rw - rl);
    const double dz = -(1 - eps) * sigmoid(-z) + eps * sigmoid(z);  // d loss / d z
    g = {beta * dz, -beta * dz, reference_free ? 0 : -beta * dz, reference_free ? 0 : beta * dz};
    return -(1 - eps) * log_sigmoid(z) - eps * log_sigmoid(-z);
  };
}

// ACO's factor on r_l in both forms, computed independently of the plugin:
// the paper's w = min(1, exp(-(A_l - A_w) / alpha)), the released code's
// f = max(1, exp(-(A_l - A_w) / alpha)).
enum class Calibration { Paper, ReleasedCode };

double aco_factor(const Pair& p, double alpha, Calibration form) {
  const double e = std::exp(-(p.w_l - p.w_w) / alpha);
  return form == Calibration::Paper ? std::min(1.0, e) : std::max(1.0, e);
}

Reference aco(double beta, double alpha, Calibration form = Calibration::Paper) {
  return [=](const Pair& p, Grad& g) {
    const double f = aco_factor(p, alpha, form);
    const double z = beta * ((p.lp_w - p.ref_w) - f * (p.lp_l - p.ref_l));
    const double dz = -sigmoid(-z);
    g = {beta * dz, -beta * f * dz, -beta * dz, beta * f * dz};
    return -log_sigmoid(z);
  };
}

// ROPO as the Genius released code computes it: z = beta * (r_w - r_l),
// loss = alpha * sigmoid(-z) - gamma * logsigmoid(z).
Reference ropo(double beta, double alpha, double gamma) {
  return [=](const Pair& p, Grad& g) {
    const double z = beta * ((p.lp_w - p.ref_w) - (p.lp_l - p.ref_l));
    const double dz = -alpha * sigmoid(-z) * sigmoid(z) - gamma * sigmoid(-z);
    g = {beta * dz, -beta * dz, -beta * dz, beta * dz};
    return alpha * sigmoid(-z) - gamma * log_sigmoid(z);
  };
}

Reference simpo(double beta, double gamma) {
  return [=](const Pair& p, Grad& g) {
    const double z = beta * (p.lp_w / p.len_w - p.lp_l / p.len_l) - gamma;
    const double dz = -sigmoid(-z);
    g = {beta * dz / p.len_w, -beta * dz / p.len_l, 0, 0};
    return -log_sigmoid(z);
  };
}

Reference ipo(double tau, bool length_normalize) {
  return [=](const Pair& p, Grad& g) {
    const double nw = length_normalize ? p.len_w : 1, nl = length_normalize ? p.len_l : 1;
    const double h = (p.lp_w - p.ref_w) / nw - (p.lp_l - p.ref_l) / nl;
    const double d = 2 * (h - 1 / (2 * tau));
    g = {d / nw, -d / nl, -d / nw, d / nl};
    return (h - 1 / (2 * tau)) * (h - 1 / (2 * tau));
  };
}

Reference sft(bool length_normalize) {
  return [=](const Pair& p, Grad& g) {
    const double n = length_normalize ? p.len_w : 1;
    g = {-1 / n, 0, 0, 0};
    return -p.lp_w / n;
  };
}

// A loss plus the chosen side's per-token NLL, weight * (-lp_w / |w|): its
// gradient adds -weight / |w| on lp_pi(chosen) only.
Reference with_nll(Reference base, double weight) {
  return [=](const Pair& p, Grad& g) {
    const double loss = base(p, g);
    g.lp_w -= weight / p.len_w;
    return loss - weight * p.lp_w / p.len_w;
  };
}

// ------------------------------------------------------ plugin under test

const core::PluginRegistry& registry() {
  return test::builtin_registry();
}

std::shared_ptr<Loss> make_loss(const std::string& name, const std::vector<std::string>& keys = {}) {
  std::vector<std::string> overrides;
  for (const auto& k : keys) overrides.push_back("loss." + k);
  const ResolvedConfig c =
      validate(RawConfig::parse("[loss]\nplugin = \"" + name + "\"\n", "test.toml", overrides), registry());
  return registry().create_as<Loss>(PluginKind::Loss, name, c.view("loss"));
}

struct Result {
  double loss;
  std::vector<Grad> grads;
  std::map<std::string, double> metrics;
};

Result run(const Loss& loss, const std::vector<Pair>& pairs, at::ScalarType dtype = at::kDouble) {
  auto column = [&](auto member, bool grad) {
    std::vector<double> v;
    for (const Pair& p : pairs) v.push_back(p.*member);
    return at::tensor(v, at::TensorOptions().dtype(dtype)).requires_grad_(grad);
  };
  PreferenceBatch b{column(&Pair::lp_w, true),  column(&Pair::lp_l, true),   column(&Pair::ref_w, true),
                    column(&Pair::ref_l, true), column(&Pair::len_w, false), column(&Pair::len_l, false),
                    column(&Pair::w_w, false),  column(&Pair::w_l, false),   column(&Pair::w_w, false)};
  LossOutput out = compute_loss_checked(loss, b);
  EXPECT_EQ(out.loss.scalar_type(), dtype) << "the loss comes back in the policy's dtype";
  out.loss.backward();
  Result r{out.loss.item<double>(), std::vector<Grad>(pairs.size()), out.metrics};
  auto grad_of = [](const at::Tensor& t, std::size_t i) {
    return t.grad().defined() ? t.grad()[static_cast<std::int64_t>(i)].item<double>() : 0.0;
  };
  for (std::size_t i = 0; i < pairs.size(); ++i)
    r.grads[i] = {grad_of(b.policy_chosen_logps, i), grad_of(b.policy_rejected_logps, i),
                  grad_of(b.reference_chosen_logps, i), grad_of(b.reference_rejected_logps, i)};
  return r;
}

void expect_matches(const Loss& loss, const Reference& ref, const std::vector<Pair>& pairs, double tol = 1e-10) {
  const Result got = run(loss, pairs);
  double expected = 0;
  const double n = static_cast<double>(pairs.size());
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    Grad g;
    expected += ref(pairs[i], g) / n;
    EXPECT_NEAR(got.grads[i].lp_w, g.lp_w / n, tol) << "d/d policy_chosen, pair " << i;
    EXPECT_NEAR(got.grads[i].lp_l, g.lp_l / n, tol) << "d/d policy_rejected, pair " << i;
    EXPECT_NEAR(got.grads[i].ref_w, g.ref_w / n, tol) << "d/d reference_chosen, pair " << i;
    EXPECT_NEAR(got.grads[i].ref_l, g.ref_l / n, tol) << "d/d reference_rejected, pair " << i;
  }
  EXPECT_NEAR(got.loss, expected, tol * std::max(1.0, std::abs(expected)));
}

std::vector<Pair> random_pairs(std::uint32_t seed, std::size_t n = 16) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> lp(-80, -2), shift(-6, 6), adv(-2, 2);
  std::uniform_int_distribution<int> len(1, 60);
  std::vector<Pair> pairs;
  for (std::size_t i = 0; i < n; ++i) {
    const double lw = lp(rng), ll = lp(rng);
    pairs.push_back({lw, ll, lw + shift(rng), ll + shift(rng), double(len(rng)), double(len(rng)), adv(rng), adv(rng)});
  }
  return pairs;
}

// ------------------------------------------------------------------ tests

TEST(DpoLoss, MatchesReferenceOnRandomPairs) {
  expect_matches(*make_loss("dpo"), dpo(0.1, 0.0), random_pairs(1));
  expect_matches(*make_loss("dpo", {"beta=0.5", "label_smoothing=0.2"}), dpo(0.5, 0.2), random_pairs(2));
  expect_matches(*make_loss("dpo", {"reference_free=true"}), dpo(0.1, 0.0, true), random_pairs(3));
}

TEST(AcoLoss, MatchesReferenceOnRandomPairs) {
  expect_matches(*make_loss("aco"), aco(0.1, 1.0, Calibration::Paper), random_pairs(4));
  expect_matches(*make_loss("aco", {"beta=0.3", "alpha=0.5"}), aco(0.3, 0.5, Calibration::Paper), random_pairs(5));
  expect_matches(*make_loss("aco", {"calibration=\"released-code\""}), aco(0.1, 1.0, Calibration::ReleasedCode),
                 random_pairs(4));
  expect_matches(*make_loss("aco", {"beta=0.3", "alpha=0.5", "calibration=\"released-code\""}),
                 aco(0.3, 0.5, Calibration::ReleasedCode), random_pairs(5));
}

// In each form's normal region the factor is 1 and ACO is DPO, value and
// gradients, bit for bit: A_l <= A_w for the paper's, A_l >= A_w for the
// released code's.
void expect_equals_dpo(const std::string& calibration, bool rejected_advantage_higher) {
  std::vector<Pair> pairs = random_pairs(6);
  for (Pair& p : pairs) p.w_l = rejected_advantage_higher ? p.w_w + std::abs(p.w_l) : p.w_w - std::abs(p.w_l);
  pairs[0].w_l = pairs[0].w_w;  // the boundary belongs to the normal region of both
  const Result a = run(*make_loss("aco", {"beta=0.2", "calibration=\"" + calibration + "\""}), pairs);
  const Result d = run(*make_loss("dpo", {"beta=0.2"}), pairs);
  EXPECT_DOUBLE_EQ(a.loss, d.loss) << calibration;
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    EXPECT_DOUBLE_EQ(a.grads[i].lp_w, d.grads[i].lp_w) << calibration << " pair " << i;
    EXPECT_DOUBLE_EQ(a.grads[i].lp_l, d.grads[i].lp_l) << calibration << " pair " << i;
    EXPECT_DOUBLE_EQ(a.grads[i].ref_w, d.grads[i].ref_w) << calibration << " pair " << i;
    EXPECT_DOUBLE_EQ(a.grads[i].ref_l, d.grads[i].ref_l) << calibration << " pair " << i;
  }
  EXPECT_DOUBLE_EQ(a.metrics.at("aco/factor"), 1.0) << calibration;
  EXPECT_DOUBLE_EQ(a.metrics.at("aco/calibrated"), 0.0) << calibration;
}

TEST(AcoLoss, EqualsDpoExactlyInTheNormalRegionOfEitherForm) {
  expect_equals_dpo("paper", false);
  expect_equals_dpo("released-code", true);
}

TEST(AcoLoss, PaperFactorBelowOnePushesTheRejectedSideLess) {
  // Worked by hand: r_w = 1, r_l = -1, A_l - A_w = 0.4 (calibration region), alpha = 1:
  // w = e^-0.4, z = 0.1 * (1 + w), loss = log(1 + e^-z).
  const Pair p{-10, -12, -11, -11, 5, 5, 0.1, 0.5};
  const Result r = run(*make_loss("aco"), {p});
  const double w = std::exp(-0.4), z = 0.1 * (1 + w);
  EXPECT_NEAR(r.loss, std::log1p(std::exp(-z)), 1e-12);
  EXPECT_NEAR(r.metrics.at("aco/factor"), w, 1e-12);
  EXPECT_DOUBLE_EQ(r.metrics.at("aco/calibrated"), 1.0);
  const double dz = -1 / (1 + std::exp(z));
  EXPECT_NEAR(r.grads[0].lp_l, -0.1 * w * dz, 1e-12);
  const Result d = run(*make_loss("dpo"), {p});
  EXPECT_LT(std::abs(r.grads[0].lp_l), std::abs(d.grads[0].lp_l));  // a smaller push on the rejected side
  // The released code's factor is 1 there: DPO.
  const Result released = run(*make_loss("aco", {"calibration=\"released-code\""}), {p});
  EXPECT_DOUBLE_EQ(released.loss, d.loss);
  EXPECT_DOUBLE_EQ(released.metrics.at("aco/calibrated"), 0.0);
}

TEST(AcoLoss, ReleasedCodeFactorAboveOneWeighsTheRejectedLogRatio) {
  // One pair worked by hand: r_w = 1, r_l = -1, A_w - A_l = 0.4, alpha = 1:
  // f = e^0.4, z = 0.1 * (1 + f), loss = log(1 + e^-z).
  const Pair p{-10, -12, -11, -11, 5, 5, 0.5, 0.1};
  const Result r = run(*make_loss("aco", {"calibration=\"released-code\""}), {p});
  const double f = std::exp(0.4), z = 0.1 * (1 + f);
  EXPECT_NEAR(r.loss, std::log1p(std::exp(-z)), 1e-12);
  EXPECT_NEAR(r.metrics.at("aco/factor"), f, 1e-12);
  EXPECT_DOUBLE_EQ(r.metrics.at("aco/calibrated"), 1.0);
  const double dz = -1 / (1 + std::exp(z));
  EXPECT_NEAR(r.grads[0].lp_l, -0.1 * f * dz, 1e-12);
  EXPECT_GT(std::abs(r.grads[0].lp_l), std::abs(r.grads[0].lp_w));  // rejected weighs more when f > 1
  const Result d = run(*make_loss("dpo"), {p});
  EXPECT_LT(r.loss, d.loss);  // here r_l < 0, so a larger f raises z
  // The paper's factor is 1 there: DPO.
  EXPECT_DOUBLE_EQ(run(*make_loss("aco"), {p}).loss, d.loss);
}

TEST(AcoLoss, CalibratedCountsThePairsInTheRegion) {
  // Gaps A_w - A_l of +1, -1, -2, 0: the paper's region holds 2 of 4, the released code's 1 of 4.
  const std::vector<Pair> pairs = {{-3, -4, -3, -4, 2, 2, 1, 0},
                                   {-3, -4, -3, -4, 2, 2, 0, 1},
                                   {-3, -4, -3, -4, 2, 2, -1, 1},
                                   {-3, -4, -3, -4, 2, 2, 0.5, 0.5}};
  const Result paper = run(*make_loss("aco", {"alpha=2"}), pairs);
  EXPECT_DOUBLE_EQ(paper.metrics.at("aco/calibrated"), 0.5);
  EXPECT_NEAR(paper.metrics.at("aco/factor"), (1 + std::exp(-0.5) + std::exp(-1.0) + 1) / 4, 1e-12);
  const Result released = run(*make_loss("aco", {"alpha=2", "calibration=\"released-code\""}), pairs);
  EXPECT_DOUBLE_EQ(released.metrics.at("aco/calibrated"), 0.25);
  EXPECT_NEAR(released.metrics.at("aco/factor"), (std::exp(0.5) + 3) / 4, 1e-12);
}

TEST(AcoAndDpo, NllWeightAddsTheChosenPerTokenNll) {
  expect_matches(*make_loss("aco", {"beta=0.3", "nll_weight=1.0"}), with_nll(aco(0.3, 1.0), 1.0), random_pairs(14));
  expect_matches(*make_loss("aco", {"nll_weight=0.25", "calibration=\"released-code\""}),
                 with_nll(aco(0.1, 1.0, Calibration::ReleasedCode), 0.25), random_pairs(15));
  expect_matches(*make_loss("dpo", {"beta=0.5", "nll_weight=2.0"}), with_nll(dpo(0.5, 0.0), 2.0), random_pairs(16));
  // Worked by hand: lp_w = -12 over 4 tokens, so the NLL term is 0.5 * 3.
  const Pair p{-12, -12, -12, -12, 4, 6, 0, 0};
  const Result plain = run(*make_loss("dpo"), {p});
  const Result nll = run(*make_loss("dpo", {"nll_weight=0.5"}), {p});
  EXPECT_NEAR(plain.loss, std::log(2.0), 1e-12);
  EXPECT_NEAR(nll.loss, std::log(2.0) + 1.5, 1e-12);
  EXPECT_NEAR(nll.metrics.at("nll/chosen"), 3.0, 1e-12);
  EXPECT_NEAR(plain.metrics.at("nll/chosen"), 3.0, 1e-12) << "reported with the term off too";
  EXPECT_NEAR(nll.grads[0].lp_w - plain.grads[0].lp_w, -0.5 / 4, 1e-12);
  EXPECT_DOUBLE_EQ(nll.grads[0].lp_l, plain.grads[0].lp_l);
}

TEST(RopoLoss, MatchesReferenceWithTheReleasedCodesConstants) {
  expect_matches(*make_loss("ropo"), ropo(0.1, 0.2, 0.1), random_pairs(21));
  expect_matches(*make_loss("ropo", {"beta=0.5", "alpha=1.0", "gamma=0.3"}), ropo(0.5, 1.0, 0.3), random_pairs(22));
  // Worked by hand at z = 0: alpha / 2 + gamma * log 2.
  const Pair p{-10, -12, -10, -12, 3, 3, 0, 0};
  EXPECT_NEAR(run(*make_loss("ropo"), {p}).loss, 0.2 * 0.5 + 0.1 * std::log(2.0), 1e-12);
  // A confidently "wrong" pair costs ROPO at most alpha + gamma * |z|; its
  // bounded term's gradient vanishes there, unlike DPO's whole gradient.
  const Pair wrong{-10, -10, -10, -110, 3, 3, 0, 0};  // z = -10
  const Result r = run(*make_loss("ropo"), {wrong});
  EXPECT_NEAR(r.loss, 0.2 * sigmoid(10) - 0.1 * log_sigmoid(-10), 1e-12);
  EXPECT_LT(std::abs(r.grads[0].lp_w), 0.1 * 0.1 * 1.0001);
  EXPECT_THROW(make_loss("ropo", {"alpha=0.0", "gamma=0.0"}), PluginError);
}

TEST(SimpoLoss, MatchesReferenceAndAveragesOverLength) {
  expect_matches(*make_loss("simpo"), simpo(2.0, 1.0), random_pairs(7));
  expect_matches(*make_loss("simpo", {"beta=2.5", "gamma=0.5"}), simpo(2.5, 0.5), random_pairs(8));
  // Doubling a response's length and its summed log-prob leaves SimPO unchanged.
  const auto loss = make_loss("simpo");
  const Pair a{-10, -20, 0, 0, 5, 10, 0, 0}, b{-20, -20, 0, 0, 10, 10, 0, 0};
  EXPECT_NEAR(run(*loss, {a}).loss, run(*loss, {b}).loss, 1e-12);
  EXPECT_FALSE(loss->needs_reference());
}

TEST(IpoLoss, MatchesReference) {
  expect_matches(*make_loss("ipo"), ipo(0.1, false), random_pairs(9), 1e-9);
  expect_matches(*make_loss("ipo", {"beta=0.5", "length_normalize=true"}), ipo(0.5, true), random_pairs(10));
}

TEST(SftLoss, MatchesReference) {
  expect_matches(*make_loss("sft"), sft(true), random_pairs(11));
  expect_matches(*make_loss("sft", {"length_normalize=false"}), sft(false), random_pairs(12));
}

TEST(Losses, ReportTrlNamedMetrics) {
  const std::vector<Pair> pairs = {{-10, -12, -11, -11, 4, 6, 0, 0}, {-9, -8, -9.5, -7, 3, 2, 0, 0}};
  const Result r = run(*make_loss("dpo", {"beta=0.5"}), pairs);
  // r_w = {1, 0.5}, r_l = {-1, -1}: rewards are beta * r.
  EXPECT_NEAR(r.metrics.at("rewards/chosen"), 0.5 * (1 + 0.5) / 2, 1e-12);
  EXPECT_NEAR(r.metrics.at("rewards/rejected"), 0.5 * (-1 - 1) / 2, 1e-12);
  EXPECT_NEAR(r.metrics.at("rewards/margins"), 0.5 * (2 + 1.5) / 2, 1e-12);
  EXPECT_NEAR(r.metrics.at("rewards/accuracies"), 1.0, 0);
  EXPECT_NEAR(r.metrics.at("logps/chosen"), -9.5, 1e-12);
  EXPECT_NEAR(r.metrics.at("logps/rejected"), -10.0, 1e-12);
  for (const char* name : {"aco", "dpo", "ropo", "simpo", "ipo", "sft"}) {
    const Result m = run(*make_loss(name), pairs);
    for (const char* key : {"rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies",
                            "logps/chosen", "logps/rejected"})
      EXPECT_TRUE(m.metrics.count(key)) << name << " lacks " << key;
  }
  // Accuracy counts only strictly better chosen rewards.
  const Result half = run(*make_loss("dpo"), {{-10, -12, -11, -11, 1, 1, 0, 0}, {-10, -10, -10, -10, 1, 1, 0, 0}});
  EXPECT_DOUBLE_EQ(half.metrics.at("rewards/accuracies"), 0.5);
}

TEST(Losses, VeryLargeMarginsStayFinite) {
  for (double margin : {1e4, -1e4, 1e6, -1e6}) {
    const Pair p{-1, -1 - margin, -1, -1, 1, 1, 0.3, 0.1};
    for (const char* name : {"aco", "dpo", "ropo", "simpo", "ipo", "sft"}) {
      for (at::ScalarType dtype : {at::kDouble, at::kFloat}) {
        const Result r = run(*make_loss(name), {p}, dtype);
        EXPECT_TRUE(std::isfinite(r.loss)) << name << " margin " << margin;
        EXPECT_TRUE(std::isfinite(r.grads[0].lp_w) && std::isfinite(r.grads[0].lp_l)) << name << " margin " << margin;
      }
    }
    // Far in the confident direction the sigmoid losses vanish; far in the wrong one they grow linearly.
    const double dpo_loss = run(*make_loss("dpo"), {p}).loss;
    if (margin > 0)
      EXPECT_NEAR(dpo_loss, 0.0, 1e-12);
    else
      EXPECT_NEAR(dpo_loss, 0.1 * -margin, 1e-6 * -margin);
  }
}

TEST(Losses, FloatInputsMatchDoubleReference) {
  expect_matches(*make_loss("aco"), aco(0.1, 1.0), random_pairs(13), 1e-5);  // float32 inputs promote to double
  expect_matches(*make_loss("aco", {"calibration=\"released-code\""}), aco(0.1, 1.0, Calibration::ReleasedCode),
                 random_pairs(13), 1e-5);
}

TEST(LossCheck, NonFiniteInputIsAnErrorNamingPluginInputAndPair) {
  std::vector<Pair> pairs = random_pairs(14, 4);
  pairs[2].lp_l = std::nan("");
  try {
    run(*make_loss("aco"), pairs);
    FAIL();
  } catch (const PluginError& e) {
    EXPECT_EQ(e.plugin(), "aco");
    EXPECT_THAT(e.what(), HasSubstr("policy_rejected_logps"));
    EXPECT_THAT(e.what(), HasSubstr("pair 2"));
  }
  pairs[2].lp_l = -5;
  pairs[1].ref_w = INFINITY;
  EXPECT_THROW(run(*make_loss("dpo"), pairs), PluginError);
  EXPECT_NO_THROW(run(*make_loss("simpo"), pairs));  // SimPO never reads the reference
  pairs[1].ref_w = -5;
  pairs[3].len_w = 0;
  EXPECT_THROW(run(*make_loss("simpo"), pairs), PluginError);
}

TEST(LossCheck, NonFiniteLossIsAnErrorNamingThePlugin) {
  // An advantage gap of 1000 with alpha 0.5 overflows the released code's
  // ACO factor to inf (and with r_l = 0 the loss would be NaN): an error,
  // never a silent NaN. The paper's factor is bounded by 1 and underflows to 0
  // the other way round.
  const Pair p{-10, -10, -11, -10, 1, 1, 500, -500};
  EXPECT_TRUE(std::isfinite(run(*make_loss("aco", {"alpha=0.5"}), {p}).loss));
  EXPECT_TRUE(std::isfinite(run(*make_loss("aco", {"alpha=0.5"}), {{-10, -10, -11, -10, 1, 1, -500, 500}}).loss));
  try {
    run(*make_loss("aco", {"alpha=0.5", "calibration=\"released-code\""}), {p});
    FAIL();
  } catch (const PluginError& e) {
    EXPECT_EQ(e.plugin(), "aco");
    EXPECT_THAT(e.what(), HasSubstr("not finite"));
  }
}

TEST(LossCheck, MismatchedShapesAreRejected) {
  const auto loss = make_loss("dpo");
  auto t = [](std::vector<double> v) { return at::tensor(v, at::kDouble); };
  PreferenceBatch b{t({-1, -2}), t({-1}),   t({-1, -2}), t({-1, -2}), t({1, 1}),
                    t({1, 1}),   t({0, 0}), t({0, 0}),   t({0, 0})};
  try {
    compute_loss_checked(*loss, b);
    FAIL();
  } catch (const PluginError& e) {
    EXPECT_THAT(e.what(), HasSubstr("policy_rejected_logps"));
  }
}

}  // namespace
}  // namespace genius::core
