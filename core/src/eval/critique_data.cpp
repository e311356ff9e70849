#include "eval/critique_data.hpp"

#include <algorithm>
#include <regex>
#include <stdexcept>

#include <genius/helpers/critique.hpp>

namespace genius::core {
namespace {

struct Op {
  char sign = '+';
  int digit = 0;
};

std::string op_text(Op op) {
  return std::string(1, op.sign) + std::to_string(op.digit);
}

int apply(int value, Op op) {
  return op.sign == '+' ? value + op.digit : value - op.digit;
}

// "15-7+2": the value and the operations still to apply.
std::string expression_text(int value, const std::vector<Op>& ops, std::size_t from) {
  std::string text = std::to_string(value);
  for (std::size_t i = from; i < ops.size(); ++i) text += op_text(ops[i]);
  return text;
}

bool parse_expression(const std::string& text, int& value, std::vector<Op>& ops) {
  static const std::regex whole(R"(^(\d{1,6})((?:[+-][1-9])+)$)");
  std::smatch m;
  if (!std::regex_match(text, m, whole)) return false;
  value = std::stoi(m[1].str());
  ops.clear();
  const std::string tail = m[2].str();
  for (std::size_t i = 0; i + 1 < tail.size(); i += 2) ops.push_back({tail[i], tail[i + 1] - '0'});
  return true;
}

// One solution line: "a op b=r: rest" (or "a op b=r" for the last operation).
std::string step_line(int value, Op op, int result, const std::vector<Op>& rest_ops, std::size_t rest_from) {
  std::string line = std::to_string(value) + op_text(op) + "=" + std::to_string(result);
  if (rest_from < rest_ops.size()) line += ": " + expression_text(result, rest_ops, rest_from);
  return line;
}

std::string boxed(int value) {
  return "\\boxed{" + std::to_string(value) + "}";
}

// A parsed solution line.
struct Line {
  int value = 0, result = 0;
  Op op;
  std::string rest;  ///< after ": ", or ""
};

std::optional<Line> parse_line(const std::string& text) {
  static const std::regex line(R"(^(\d{1,6})([+-])(\d)=(-?\d{1,6})(?:: (.*))?$)");
  std::smatch m;
  if (!std::regex_match(text, m, line)) return std::nullopt;
  return Line{std::stoi(m[1].str()), std::stoi(m[4].str()), {m[2].str()[0], std::stoi(m[3].str())}, m[5].str()};
}

std::optional<int> parse_boxed(const std::string& text) {
  static const std::regex b(R"(^\\boxed\{(-?\d{1,6})\}$)");
  std::smatch m;
  if (!std::regex_match(text, m, b)) return std::nullopt;
  return std::stoi(m[1].str());
}

int uniform(std::mt19937_64& rng, int lo, int hi) {
  return lo + static_cast<int>(rng() % static_cast<std::uint64_t>(hi - lo + 1));
}

// One draw from a histogram of counts (keys with a positive count); `fallback` when it is empty.
template <class Key>
Key draw(const std::map<Key, std::int64_t>& counts, std::mt19937_64& rng, Key fallback) {
  std::int64_t total = 0;
  for (const auto& [k, n] : counts) total += std::max<std::int64_t>(n, 0);
  if (total <= 0) return fallback;
  auto r = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(total));
  for (const auto& [k, n] : counts) {
    if (n <= 0) continue;
    if (r < n) return k;
    r -= n;
  }
  return fallback;
}

// The solution of (value, ops) from operation `from` on, with each later value
// computed from the one before; false when a value goes below zero.
bool carry_on(int value, const std::vector<Op>& ops, std::size_t from, std::vector<std::string>& lines, int& answer) {
  for (std::size_t i = from; i < ops.size(); ++i) {
    const int result = apply(value, ops[i]);
    if (result < 0) return false;
    lines.push_back(step_line(value, ops[i], result, ops, i + 1));
    value = result;
  }
  answer = value;
  return true;
}

// One attempt at a slip of `kind`; nullopt when the draw breaks the task's
// rules (a negative value, an operand outside 1-9) or the kind cannot occur.
std::optional<FlawedSolution> try_slip(int start, const std::vector<Op>& ops, SlipKind kind, int delta,
                                       std::mt19937_64& rng) {
  const auto n = static_cast<int>(ops.size());
  std::vector<std::string> lines;
  int value = start, answer = 0;
  auto finish = [&](int position) -> std::optional<FlawedSolution> {
    lines.push_back(boxed(answer));
    FlawedSolution f;
    for (std::size_t i = 0; i < lines.size(); ++i) f.solution += (i ? "\n" : "") + lines[i];
    f.first_error = position;
    f.slip = {kind, position, delta};
    return f;
  };
  if (kind == SlipKind::Boxed) {
    if (!carry_on(start, ops, 0, lines, answer) || answer + delta < 0 || delta == 0) return std::nullopt;
    answer += delta;
    return finish(n);
  }
  const int last = kind == SlipKind::Rest ? n - 2 : n - 1;  // a rest slip needs an operation left to rewrite
  if (last < 0) return std::nullopt;
  const int k = uniform(rng, 0, last);
  for (int i = 0; i < k; ++i) {
    const int r = apply(value, ops[std::size_t(i)]);
    lines.push_back(step_line(value, ops[std::size_t(i)], r, ops, std::size_t(i) + 1));
    value = r;
  }
  std::vector<Op> rest = ops;
  const Op op = ops[std::size_t(k)];
  auto flip = [](Op& o) { o.sign = o.sign == '+' ? '-' : '+'; };
  int shown = value;  // the line's leading value as written
  Op written = op;
  if (kind == SlipKind::Carry) {
    if (delta == 0) return std::nullopt;
    shown = value + delta;
  } else if (kind == SlipKind::Operand) {
    if (delta == 0) flip(written);
    written.digit += delta;
    if (written.digit < 1 || written.digit > 9) return std::nullopt;
  } else if (kind ==
             SlipKind::Rest) {  // one later operation miscopied in the rewrite: its digit, or its sign (delta 0)
    const auto j = static_cast<std::size_t>(uniform(rng, k + 1, n - 1));
    if (delta == 0) flip(rest[j]);
    rest[j].digit += delta;
    if (rest[j].digit < 1 || rest[j].digit > 9) return std::nullopt;
  } else if (delta == 0) {  // Result
    return std::nullopt;
  }
  int result = apply(shown, written) + (kind == SlipKind::Result ? delta : 0);
  if (shown < 0 || result < 0) return std::nullopt;
  lines.push_back(step_line(shown, written, result, rest, std::size_t(k) + 1));
  if (!carry_on(result, rest, std::size_t(k) + 1, lines, answer)) return std::nullopt;
  return finish(k);
}

const std::vector<std::pair<SlipKind, const char*>>& kind_names() {
  static const std::vector<std::pair<SlipKind, const char*>> names = {
      {SlipKind::Result, "result"}, {SlipKind::Operand, "operand"}, {SlipKind::Carry, "carry"},
      {SlipKind::Rest, "rest"},     {SlipKind::Boxed, "boxed"},     {SlipKind::Structure, "structure"}};
  return names;
}

SlipKind kind_of(const std::string& name) {
  for (const auto& [k, n] : kind_names())
    if (name == n) return k;
  throw std::runtime_error("unknown slip kind '" + name + "' (result, operand, rest, boxed or structure)");
}

class ArithCritiqueTask final : public Task {
 public:
  explicit ArithCritiqueTask(SlipModel slips) : slips_(std::move(slips)) {}
  std::string name() const override { return "arith-critique"; }
  std::string description() const override {
    return "step-level critiques of arith solutions, half of them with one slip of the base model's kinds carried "
           "on (answer: correct / wrong)";
  }
  LevelRange supported_levels() const override { return base().supported_levels(); }
  LevelRange default_levels() const override { return base().default_levels(); }

  Problem generate(std::mt19937_64& rng, int level) const override {
    Problem p = base().generate(rng, level);
    const bool flawed = uniform(rng, 0, 1) == 1;
    std::string solution = p.solution;
    int first_error = -1;
    if (flawed) {
      const FlawedSolution f = inject_slip(p, slips_, rng);
      solution = f.solution;
      first_error = f.first_error;
    }
    const std::vector<std::string> steps = critique::split_steps(solution);
    std::vector<bool> wrong(steps.size(), false);
    for (std::size_t k = 0; k < steps.size(); ++k) wrong[k] = first_error >= 0 && int(k) >= first_error;
    p.solution = critique::render(steps, wrong);
    p.solution.pop_back();  // the last step's newline: a solution ends at its last token, as the task's do
    p.answer = flawed ? "wrong" : "correct";
    return p;
  }

 private:
  static const Task& base() { return find_task("arith"); }
  SlipModel slips_;
};

}  // namespace

std::optional<Problem> solve_arith(const std::string& prompt) {
  int value = 0;
  std::vector<Op> ops;
  if (!parse_expression(prompt, value, ops)) return std::nullopt;
  Problem p;
  p.prompt = prompt;
  p.level = static_cast<int>(ops.size());
  std::vector<std::string> lines;
  int answer = 0;
  if (!carry_on(value, ops, 0, lines, answer)) return std::nullopt;
  lines.push_back(boxed(answer));
  for (std::size_t i = 0; i < lines.size(); ++i) p.solution += (i ? "\n" : "") + lines[i];
  p.answer = std::to_string(answer);
  return p;
}

StepLabels label_steps(const std::string& solution, const std::string& response) {
  const std::vector<std::string> reference = critique::split_steps(solution);
  StepLabels labels;
  labels.steps = critique::split_steps(response);
  labels.wrong.assign(labels.steps.size(), false);
  for (std::size_t k = 0; k < labels.steps.size(); ++k) {
    if (labels.first_error < 0 && (k >= reference.size() || labels.steps[k] != reference[k]))
      labels.first_error = static_cast<int>(k);
    labels.wrong[k] = labels.first_error >= 0;
  }
  return labels;
}

const char* to_string(SlipKind kind) {
  for (const auto& [k, n] : kind_names())
    if (k == kind) return n;
  return "?";
}

namespace {
std::optional<Slip> classify(const Problem& reference, const std::string& response);
}

std::optional<Slip> classify_slip(const Problem& reference, const std::string& response) {
  std::optional<Slip> slip = classify(reference, response);
  if (!slip) return slip;
  const std::vector<std::string> got = critique::split_steps(response),
                                 want = critique::split_steps(reference.solution);
  const auto k = static_cast<std::size_t>(slip->position);
  slip->example = (k < got.size() ? got[k] : std::string("(nothing)")) + " | " +
                  (k < want.size() ? want[k] : std::string("(nothing)"));
  return slip;
}

namespace {
std::optional<Slip> classify(const Problem& reference, const std::string& response) {
  const StepLabels labels = label_steps(reference.solution, response);
  const std::vector<std::string> ref = critique::split_steps(reference.solution);
  if (labels.first_error < 0) {
    if (labels.steps.size() >= ref.size()) return std::nullopt;
    return Slip{SlipKind::Structure, static_cast<int>(labels.steps.size()), 0};  // stopped early
  }
  const auto k = static_cast<std::size_t>(labels.first_error);
  Slip slip{SlipKind::Structure, labels.first_error, 0};
  if (k >= ref.size()) return slip;
  const std::string& got = labels.steps[k];
  if (const auto want_box = parse_boxed(ref[k])) {
    if (const auto got_box = parse_boxed(got)) slip = {SlipKind::Boxed, labels.first_error, *got_box - *want_box};
    return slip;
  }
  const auto want = parse_line(ref[k]);
  const auto have = parse_line(got);
  if (!want || !have) return slip;
  const int at = labels.first_error;
  if (have->value != want->value) return Slip{SlipKind::Carry, at, have->value - want->value};
  if (have->op.sign != want->op.sign) return Slip{SlipKind::Operand, at, 0};  // 0: the sign flipped
  if (have->op.digit != want->op.digit) return Slip{SlipKind::Operand, at, have->op.digit - want->op.digit};
  if (have->result != want->result) return Slip{SlipKind::Result, at, have->result - want->result};
  // The operation is right: the rewrite of the rest differs. One miscopied
  // digit gives its delta, one flipped sign the delta 0.
  int wv = 0, hv = 0;
  std::vector<Op> wops, hops;
  if (parse_expression(want->rest, wv, wops) && parse_expression(have->rest, hv, hops) && wv == hv &&
      wops.size() == hops.size()) {
    int differing = 0, delta = 0;
    for (std::size_t i = 0; i < wops.size(); ++i)
      if (wops[i].sign != hops[i].sign || wops[i].digit != hops[i].digit) {
        ++differing;
        delta =
            wops[i].sign != hops[i].sign ? (wops[i].digit == hops[i].digit ? 0 : 99) : hops[i].digit - wops[i].digit;
      }
    if (differing == 1 && delta != 99) return Slip{SlipKind::Rest, at, delta};
  }
  return slip;  // another rewrite error (a dropped or added operation, a miscopied result): Structure
}
}  // namespace

void SlipModel::add(const Slip& slip) {
  if (auto& e = examples[slip.kind]; e.size() < 5 && !slip.example.empty()) e.push_back(slip.example);
  ++kinds[slip.kind];
  ++positions[slip.position];
  if (slip.kind != SlipKind::Structure) ++deltas[slip.kind][slip.delta];
}

nlohmann::json SlipModel::to_json() const {
  nlohmann::json j = {
      {"responses", responses}, {"wrong_responses", wrong_responses}, {"correct_answers", correct_answers}};
  j["kinds"] = nlohmann::json::object();
  j["deltas"] = nlohmann::json::object();
  for (const auto& [kind, name] : kind_names()) {
    j["kinds"][name] = kinds.count(kind) ? kinds.at(kind) : 0;
    nlohmann::json d = nlohmann::json::object();
    if (deltas.count(kind))
      for (const auto& [delta, n] : deltas.at(kind)) d[std::to_string(delta)] = n;
    j["deltas"][name] = d;
    if (examples.count(kind)) j["examples"][name] = examples.at(kind);
  }
  j["positions"] = nlohmann::json::object();
  for (const auto& [p, n] : positions) j["positions"][std::to_string(p)] = n;
  return j;
}

SlipModel SlipModel::from_json(const nlohmann::json& j) {
  SlipModel m;
  auto need = [&](const nlohmann::json& o, const char* key, bool object) -> const nlohmann::json& {
    if (!o.is_object() || !o.contains(key) || (object ? !o[key].is_object() : !o[key].is_number_integer()))
      throw std::runtime_error(std::string("missing or mistyped field '") + key + "' (" +
                               (object ? "an object" : "an integer") + ")");
    return o[key];
  };
  auto count = [](const nlohmann::json& v, const std::string& what) {
    if (!v.is_number_integer() || v.get<std::int64_t>() < 0)
      throw std::runtime_error("'" + what + "' must be a count (a non-negative integer)");
    return v.get<std::int64_t>();
  };
  auto integer_key = [](const std::string& s, const std::string& what) {
    std::size_t used = 0;
    int v = 0;
    try {
      v = std::stoi(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != s.size())
      throw std::runtime_error("'" + what + "' has a key that is not an integer: '" + s + "'");
    return v;
  };
  m.responses = count(need(j, "responses", false), "responses");
  m.wrong_responses = count(need(j, "wrong_responses", false), "wrong_responses");
  m.correct_answers = count(need(j, "correct_answers", false), "correct_answers");
  for (const auto& [name, n] : need(j, "kinds", true).items()) m.kinds[kind_of(name)] = count(n, "kinds." + name);
  for (const auto& [name, table] : need(j, "deltas", true).items()) {
    if (!table.is_object()) throw std::runtime_error("'deltas." + name + "' must be an object");
    for (const auto& [delta, n] : table.items())
      m.deltas[kind_of(name)][integer_key(delta, "deltas." + name)] = count(n, "deltas." + name + "." + delta);
  }
  for (const auto& [p, n] : need(j, "positions", true).items())
    m.positions[integer_key(p, "positions")] = count(n, "positions." + p);
  return m;
}

const SlipModel& SlipModel::embedded_default() {
  // `genius slips --model examples/arith/base-model --data examples/arith/data/train.jsonl --samples 4
  //  --temperature 0.6 --out examples/arith/slips.json` (a test checks that the two agree).
  static const SlipModel m = from_json(nlohmann::json::parse(
      R"({"correct_answers":4146,"deltas":{"boxed":{"-3":3},"carry":{"-1":3,"-10":5,"-2":1,"1":6},"operand":{)"
      R"("-1":3,"0":19},"rest":{"-1":6,"-8":1,"0":235,"1":6},"result":{"-1":1477,"-10":11,"-11":4,"-12":1,"-1)"
      R"(5":1,"-16":1,"-17":1,"-18":1,"-19":1,"-2":255,"-21":1,"-3":100,"-4":45,"-5":21,"-6":20,"-7":6,"-8":1)"
      R"(5,"-9":25,"1":1531,"10":2,"17":2,"18":1,"19":1,"2":219,"3":72,"4":24,"5":15,"6":7,"7":3,"8":3,"9":6})"
      R"(,"structure":{}},"kinds":{"boxed":3,"carry":15,"operand":22,"rest":248,"result":3872,"structure":16})"
      R"(,"positions":{"0":733,"1":1872,"2":1161,"3":410},"responses":8000,"wrong_responses":4176})"));
  return m;
}

FlawedSolution inject_slip(const Problem& problem, const SlipModel& slips, std::mt19937_64& rng) {
  int start = 0;
  std::vector<Op> ops;
  if (!parse_expression(problem.prompt, start, ops))
    throw std::invalid_argument("inject_slip: '" + problem.prompt + "' is not an arith query");
  std::map<SlipKind, std::int64_t> kinds = slips.kinds;
  kinds.erase(SlipKind::Structure);  // not injected: its forms are too varied to imitate
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const SlipKind kind = draw(kinds, rng, SlipKind::Result);
    const auto it = slips.deltas.find(kind);
    const bool has_deltas = it != slips.deltas.end() && !it->second.empty();
    const int delta = has_deltas ? draw(it->second, rng, 0) : (uniform(rng, 0, 1) ? 1 : -1);
    if (auto f = try_slip(start, ops, kind, delta, rng)) return *f;
  }
  // Every draw broke a rule (tiny values, only negative deltas): a result one too high always works.
  return *try_slip(start, ops, SlipKind::Result, 1, rng);
}

std::unique_ptr<Task> make_arith_critique_task(SlipModel slips) {
  return std::make_unique<ArithCritiqueTask>(std::move(slips));
}

}  // namespace genius::core
