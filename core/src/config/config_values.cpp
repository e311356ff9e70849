#include "config/config_values.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "config/suggest.hpp"

namespace genius::core {

const char* toml_type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table:
      return "table";
    case toml::node_type::array:
      return "array";
    case toml::node_type::string:
      return "string";
    case toml::node_type::integer:
      return "int";
    case toml::node_type::floating_point:
      return "float";
    case toml::node_type::boolean:
      return "bool";
    case toml::node_type::date:
      return "date";
    case toml::node_type::time:
      return "time";
    case toml::node_type::date_time:
      return "date-time";
    default:
      return "nothing";
  }
}

namespace {

std::string format_bound(double v) {
  // Whole numbers in full (1048576, 3000000000), others to 6 digits.
  if (std::abs(v) < 1e18 && v == std::floor(v)) return std::to_string(static_cast<long long>(v));
  std::ostringstream os;
  os << v;
  return os.str();
}

// Range check for one number; "" when fine.
std::string check_bounds(double v, const Bounds& b) {
  const bool below = b.min && (b.min_inclusive ? v < *b.min : v <= *b.min);
  const bool above = b.max && (b.max_inclusive ? v > *b.max : v >= *b.max);
  if (!below && !above) return "";
  std::string range;
  if (b.min && b.max)
    range = std::string(b.min_inclusive ? "[" : "(") + format_bound(*b.min) + ", " + format_bound(*b.max) +
            (b.max_inclusive ? "]" : ")");
  else if (b.min)
    range = std::string(b.min_inclusive ? ">= " : "> ") + format_bound(*b.min);
  else
    range = std::string(b.max_inclusive ? "<= " : "< ") + format_bound(*b.max);
  return "value " + format_bound(v) + " is out of range; expected " + range;
}

// Length check of a string or list; "" when fine.
std::string check_size(std::size_t n, const ConfigKey& spec, const char* unit) {
  if (n >= spec.min_size && n <= spec.max_size) return "";
  if (spec.min_size == 1 && spec.max_size == std::numeric_limits<std::size_t>::max()) return "must not be empty";
  std::string want;
  if (spec.min_size == spec.max_size)
    want = "exactly " + std::to_string(spec.min_size);
  else if (spec.max_size == std::numeric_limits<std::size_t>::max())
    want = "at least " + std::to_string(spec.min_size);
  else
    want = std::to_string(spec.min_size) + " to " + std::to_string(spec.max_size);
  return "expected " + want + " " + unit + ", got " + std::to_string(n);
}

}  // namespace

// Convert a TOML node to the key's type; on failure return nullopt and set `error`.
std::optional<ConfigValue> convert(const toml::node& node, const ConfigKey& spec, std::string& error) {
  auto number = [&](const toml::node& n, bool integer_only) -> std::optional<double> {
    if (auto i = n.as_integer()) return static_cast<double>(i->get());
    if (auto f = n.as_floating_point(); f && !integer_only) {
      if (!std::isfinite(f->get())) {
        error = "must be a finite number";
        return std::nullopt;
      }
      return f->get();
    }
    return std::nullopt;
  };
  const ValueType type = spec.type();
  auto wrong_type = [&] {
    error = std::string("expected ") + (type == ValueType::Int ? "an " : "a ") + to_string(type) + ", got " +
            (node.is_array() ? "an " : "a ") + toml_type_name(node);
    if (type == ValueType::Int && node.is_floating_point()) error += " (write a whole number without a decimal point)";
    return std::nullopt;
  };
  switch (type) {
    case ValueType::Bool:
      if (auto b = node.as_boolean()) return ConfigValue(b->get());
      return wrong_type();
    case ValueType::Int:
    case ValueType::Float: {
      auto v = number(node, type == ValueType::Int);
      if (!v) return error.empty() ? wrong_type() : std::nullopt;
      if (error = check_bounds(*v, spec.bounds); !error.empty()) return std::nullopt;
      if (type == ValueType::Int) return ConfigValue(node.as_integer()->get());
      return ConfigValue(*v);
    }
    case ValueType::String: {
      auto s = node.as_string();
      if (!s) return wrong_type();
      if (!spec.choices.empty() &&
          std::find(spec.choices.begin(), spec.choices.end(), s->get()) == spec.choices.end()) {
        error = "'" + s->get() + "' is not one of: " + join(spec.choices);
        if (auto n = nearest(s->get(), spec.choices); !n.empty()) error += "; did you mean '" + n + "'?";
        return std::nullopt;
      }
      if (error = check_size(s->get().size(), spec, "characters"); !error.empty()) return std::nullopt;
      return ConfigValue(s->get());
    }
    case ValueType::StringList:
    case ValueType::IntList:
    case ValueType::FloatList: {
      auto arr = node.as_array();
      if (!arr) return wrong_type();
      std::vector<std::string> strings;
      std::vector<std::int64_t> ints;
      std::vector<double> floats;
      for (std::size_t i = 0; i < arr->size(); ++i) {
        const toml::node& item = *arr->get(i);
        const std::string at = "element " + std::to_string(i) + ": ";
        if (type == ValueType::StringList) {
          auto s = item.as_string();
          if (!s) return error = at + "expected a string, got a " + toml_type_name(item), std::nullopt;
          strings.push_back(s->get());
          continue;
        }
        auto v = number(item, type == ValueType::IntList);
        if (!v) {
          if (error.empty())
            error = std::string("expected ") + (type == ValueType::IntList ? "an int" : "a float") + ", got a " +
                    toml_type_name(item);
          return error = at + error, std::nullopt;
        }
        if (auto bad = check_bounds(*v, spec.bounds); !bad.empty()) return error = at + bad, std::nullopt;
        if (type == ValueType::IntList)
          ints.push_back(item.as_integer()->get());
        else
          floats.push_back(*v);
      }
      if (error = check_size(arr->size(), spec, "elements"); !error.empty()) return std::nullopt;
      if (type == ValueType::StringList) return ConfigValue(std::move(strings));
      if (type == ValueType::IntList) return ConfigValue(std::move(ints));
      return ConfigValue(std::move(floats));
    }
  }
  return wrong_type();
}

}  // namespace genius::core
