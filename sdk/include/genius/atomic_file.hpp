// genius/atomic_file.hpp — moved to <genius/helpers/atomic_file.hpp> in SDK ABI 3 (docs/plugins.md#deprecation).
// This forwarding header goes away with ABI 4: include the new path.
#pragma once
#pragma message("<genius/atomic_file.hpp> is deprecated: include <genius/helpers/atomic_file.hpp>")
#include <genius/helpers/atomic_file.hpp>
