// genius/pairs.hpp — moved to <genius/helpers/pairs.hpp> in SDK ABI 3 (docs/plugins.md#deprecation).
// This forwarding header goes away with ABI 4: include the new path.
#pragma once
#pragma message("<genius/pairs.hpp> is deprecated: include <genius/helpers/pairs.hpp>")
#include <genius/helpers/pairs.hpp>
