// genius/config.hpp — typed, read-only configuration values for plugins.
//
// A plugin never parses TOML. The host reads the run's TOML file, checks every
// key of the plugin's section against the plugin's manifest (type, range,
// choices), fills in defaults for keys the user left out, and hands the
// plugin a ConfigView. Every key the manifest declares is therefore present
// and of the declared type when the plugin's factory runs:
//
//     MyLoss(const genius::ConfigView& cfg)
//         : beta_(cfg.get<double>("beta")), steps_(cfg.get<int>("steps")) {}
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <genius/error.hpp>

namespace genius {

/// The value types a config key may have; the order matches ConfigValue.
enum class ValueType { Bool, Int, Float, String, StringList, IntList, FloatList };

/// One configuration value (TOML boolean, integer, float, string or array).
using ConfigValue = std::variant<bool, std::int64_t, double, std::string, std::vector<std::string>,
                                 std::vector<std::int64_t>, std::vector<double>>;

/// Name of a value type as it appears in messages and docs ("float").
inline const char* to_string(ValueType t) {
  switch (t) {
    case ValueType::Bool:
      return "bool";
    case ValueType::Int:
      return "int";
    case ValueType::Float:
      return "float";
    case ValueType::String:
      return "string";
    case ValueType::StringList:
      return "string list";
    case ValueType::IntList:
      return "int list";
    case ValueType::FloatList:
      return "float list";
  }
  return "?";
}

inline ValueType type_of(const ConfigValue& v) {
  return static_cast<ValueType>(v.index());
}

namespace detail {
inline std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

inline std::string format_double(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  // Shortest decimal form that reads back as the same double.
  std::string s;
  for (int precision = 15; precision <= 17; ++precision) {
    std::ostringstream os;
    os.precision(precision);
    os << d;
    s = os.str();
    if (std::stod(s) == d) break;
  }
  // TOML needs a '.' or exponent to read the value back as a float.
  if (s.find_first_of(".eE") == std::string::npos) s += ".0";
  return s;
}
}  // namespace detail

/// Render a value as a TOML literal: `0.1`, `"linear"`, `[1, 2]`, `true`.
inline std::string format_value(const ConfigValue& v) {
  auto list = [](const auto& xs, auto one) {
    std::string out = "[";
    for (std::size_t i = 0; i < xs.size(); ++i) out += (i ? ", " : "") + one(xs[i]);
    return out + "]";
  };
  switch (type_of(v)) {
    case ValueType::Bool:
      return std::get<bool>(v) ? "true" : "false";
    case ValueType::Int:
      return std::to_string(std::get<std::int64_t>(v));
    case ValueType::Float:
      return detail::format_double(std::get<double>(v));
    case ValueType::String:
      return detail::quote(std::get<std::string>(v));
    case ValueType::StringList:
      return list(std::get<std::vector<std::string>>(v), detail::quote);
    case ValueType::IntList:
      return list(std::get<std::vector<std::int64_t>>(v), [](std::int64_t x) { return std::to_string(x); });
    case ValueType::FloatList:
      return list(std::get<std::vector<double>>(v), detail::format_double);
  }
  return "?";
}

/// The validated keys of one config section, as a plugin sees them.
class ConfigView {
 public:
  ConfigView() = default;
  ConfigView(std::string section, std::map<std::string, ConfigValue> values)
      : section_(std::move(section)), values_(std::move(values)) {}

  /// The TOML section these keys came from ("loss"); used in messages.
  const std::string& section() const { return section_; }

  bool contains(std::string_view key) const { return values_.find(std::string(key)) != values_.end(); }

  /// The value of `key` converted to T, one of: bool, int, std::int64_t,
  /// double (an integer value converts), std::string, std::vector<std::string>,
  /// std::vector<std::int64_t>, std::vector<double>. Throws ConfigError naming
  /// `section.key` when the key is absent or holds another type.
  template <class T>
  T get(std::string_view key) const {
    const ConfigValue& v = at(key);
    if constexpr (std::is_same_v<T, bool>) {
      if (auto p = std::get_if<bool>(&v)) return *p;
    } else if constexpr (std::is_integral_v<T>) {
      if (auto p = std::get_if<std::int64_t>(&v)) {
        using Limits = std::numeric_limits<T>;
        bool fits = *p >= static_cast<std::int64_t>(Limits::min());
        if constexpr (sizeof(T) < sizeof(std::int64_t) || std::is_signed_v<T>)
          fits = fits && *p <= static_cast<std::int64_t>(Limits::max());
        if (!fits) throw ConfigError(qualified(key) + ": value " + std::to_string(*p) + " does not fit");
        return static_cast<T>(*p);
      }
    } else if constexpr (std::is_floating_point_v<T>) {
      if (auto p = std::get_if<double>(&v)) return static_cast<T>(*p);
      if (auto p = std::get_if<std::int64_t>(&v)) return static_cast<T>(*p);
    } else if constexpr (std::is_same_v<T, std::vector<double>>) {
      if (auto p = std::get_if<std::vector<double>>(&v)) return *p;
      if (auto p = std::get_if<std::vector<std::int64_t>>(&v)) return {p->begin(), p->end()};
    } else {
      if (auto p = std::get_if<T>(&v)) return *p;
    }
    throw ConfigError(qualified(key) + ": holds a " + to_string(type_of(v)) +
                      ", which cannot be read as the requested type");
  }

  /// The value of `key`, or `fallback` when the key is absent.
  template <class T>
  T get_or(std::string_view key, T fallback) const {
    return contains(key) ? get<T>(key) : fallback;
  }

  const std::map<std::string, ConfigValue>& values() const { return values_; }

 private:
  const ConfigValue& at(std::string_view key) const {
    auto it = values_.find(std::string(key));
    if (it == values_.end()) throw ConfigError(qualified(key) + ": no such key");
    return it->second;
  }
  std::string qualified(std::string_view key) const {
    return section_.empty() ? std::string(key) : section_ + "." + std::string(key);
  }

  std::string section_;
  std::map<std::string, ConfigValue> values_;
};

}  // namespace genius
