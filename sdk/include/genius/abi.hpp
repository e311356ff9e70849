// genius/abi.hpp — the binary contract between the host and a plugin library.
//
// A plugin is a shared library compiled separately from the `genius` host. The
// host and the plugin exchange C++ objects (std::string, std::vector, virtual
// interfaces, at::Tensor), so both sides must agree on three things:
//
//   1. the SDK ABI version below: bumped whenever a contract header (the list in
//      sdk/contract.lock; not the helpers in genius/helpers/) changes the layout
//      of a type, the vtable of an interface or the meaning of a call — a test
//      fails when a contract header changes without the lock being renewed;
//   2. the libtorch version (tensors cross the boundary);
//   3. the C++ standard library ABI (libstdc++'s _GLIBCXX_USE_CXX11_ABI).
//
// Every plugin exports `genius_plugin_abi`, a function returning a plain C
// struct, so the host can read these facts without touching any C++ layout. A
// library that disagrees on any of them is refused with a message naming both
// sides, before its manifest is read.
#pragma once

#include <cstdint>

#include <torch/version.h>  // TORCH_VERSION_{MAJOR,MINOR,PATCH}; no other torch code

/// Version of the plugin contract. Bump on any incompatible header change.
///   1  the first SDK
///   2  pairs.hpp: step_pairs() takes a PairRule; RejectedRule gains Softmax
///      (the paper's draw) and loses Distinct (now PairRule::skip_copies)
///   3  the contract is the headers listed in sdk/contract.lock; answer, atomic_file,
///      pairs and preference_metrics moved to <genius/helpers/> (the old paths
///      forward until ABI 4); ConfigKey gains `flag`, PluginManifest gains
///      `model_keys`; libraries export genius_plugin_create_model; the host, not
///      the ValueEstimator, sets Candidate::advantage
///   4  PluginManifest gains `models` (uses_model); Plugin gains attach_model, by
///      which the host hands a sampler or value estimator the [critic] model;
///      the forwarding headers of ABI 3 are gone
///   5  ModelBackend gains generation_stats() (GenerationStats in types.hpp):
///      prefill tokens computed and reused, decode steps and rows, KV memory;
///      and reset_generation_cache(), called before each exploration chunk
///   6  ModelBackend gains add_lora() (LoraOptions in types.hpp), merge_lora()
///      and set_gradient_checkpointing(), all refusing by default
///   7  ConfigKey gains min_size/max_size (PluginManifest::size): the allowed
///      length of a string key or list key, checked by the host like bounds
#define GENIUS_SDK_ABI_VERSION 7

/// Version of the Genius SDK release (informational; compatibility is decided
/// by GENIUS_SDK_ABI_VERSION alone).
#define GENIUS_SDK_VERSION "0.3.0"

#define GENIUS_STRINGIFY_IMPL(x) #x
#define GENIUS_STRINGIFY(x) GENIUS_STRINGIFY_IMPL(x)

/// "MAJOR.MINOR" of the libtorch this translation unit is compiled against.
/// Patch releases of libtorch keep the ABI, so they are not compared.
#define GENIUS_TORCH_VERSION GENIUS_STRINGIFY(TORCH_VERSION_MAJOR) "." GENIUS_STRINGIFY(TORCH_VERSION_MINOR)

#if defined(_GLIBCXX_USE_CXX11_ABI)
#define GENIUS_CXX11_ABI _GLIBCXX_USE_CXX11_ABI
#else
#define GENIUS_CXX11_ABI -1  // not libstdc++: no dual ABI to compare
#endif

extern "C" {
/// Plain-C description of how a library was built; layout frozen forever.
struct GeniusPluginAbi {
  std::uint32_t sdk_abi_version;  ///< GENIUS_SDK_ABI_VERSION at build time
  const char* torch_version;      ///< GENIUS_TORCH_VERSION at build time
  std::int32_t cxx11_abi;         ///< GENIUS_CXX11_ABI at build time
};
}

namespace genius {

/// The ABI of the code including this header (the host uses it to compare).
inline const GeniusPluginAbi& this_build_abi() {
  static const GeniusPluginAbi abi{GENIUS_SDK_ABI_VERSION, GENIUS_TORCH_VERSION, GENIUS_CXX11_ABI};
  return abi;
}

}  // namespace genius
