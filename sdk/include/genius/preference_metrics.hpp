// genius/preference_metrics.hpp — moved to <genius/helpers/preference_metrics.hpp> in SDK ABI 3
// (docs/plugins.md#deprecation). This forwarding header goes away with ABI 4: include the new path.
#pragma once
#pragma message("<genius/preference_metrics.hpp> is deprecated: include <genius/helpers/preference_metrics.hpp>")
#include <genius/helpers/preference_metrics.hpp>
