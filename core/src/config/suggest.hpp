// Did-you-mean suggestions for misspelt keys, sections and plugin names.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace genius::core {

/// Optimal-string-alignment edit distance (insert, delete, substitute, swap
/// of adjacent characters), case-sensitive.
std::size_t edit_distance(std::string_view a, std::string_view b);

/// The candidate nearest to `word`, or "" when none is close enough to be a
/// plausible typo (distance above max(2, |word| / 3)).
std::string nearest(std::string_view word, const std::vector<std::string>& candidates);

/// "a, b, c" for messages.
std::string join(const std::vector<std::string>& items, std::string_view separator = ", ");

}  // namespace genius::core
