// genius/answer.hpp — moved to <genius/helpers/answer.hpp> in SDK ABI 3 (docs/plugins.md#deprecation).
// This forwarding header goes away with ABI 4: include the new path.
#pragma once
#pragma message("<genius/answer.hpp> is deprecated: include <genius/helpers/answer.hpp>")
#include <genius/helpers/answer.hpp>
