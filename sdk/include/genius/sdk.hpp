// genius/sdk.hpp — everything a plugin author needs, in one include.
//
// The contract (ABI-checked: a change to one of these headers is a new
// GENIUS_SDK_ABI_VERSION, see abi.hpp and sdk/contract.lock):
//   abi.hpp              the binary contract (SDK ABI, libtorch, C++ ABI)
//   error.hpp            PluginError, ConfigError
//   config.hpp           ConfigView: the plugin's validated keys
//   manifest.hpp         PluginManifest: kind, name, version, keys, model keys
//   plugin.hpp           the Plugin base class
//   types.hpp            data crossing the interfaces (no torch)
//   loss.hpp             Loss interface
//   model_backend.hpp    ModelBackend interface
//   value_estimator.hpp  ValueEstimator interface
//   sampler.hpp          Sampler interface
//   registration.hpp     GENIUS_REGISTER_PLUGIN
//
// Helpers (genius/helpers/, not part of the ABI: inline code compiled into
// the plugin with hidden visibility, so changing them never breaks a built
// plugin; versioned by GENIUS_SDK_VERSION):
//   atomic_file.hpp      write_file_atomic, read_file (crash-safe outputs)
//   answer.hpp           extract_boxed, AnswerExtractor, same_answer
//   pairs.hpp            step_pairs: records -> preference pairs (algorithm.md §3)
//   seeds.hpp            child_seed, derive_seed, uniform01: samplers' seed streams
//   whole_responses.hpp  n whole responses per query as one step (best-of-n style samplers)
//   preference_metrics.hpp  TRL-named reward metrics for losses (ATen; include it yourself)
#pragma once

#include <genius/abi.hpp>
#include <genius/config.hpp>
#include <genius/error.hpp>
#include <genius/helpers/answer.hpp>
#include <genius/helpers/atomic_file.hpp>
#include <genius/helpers/pairs.hpp>
#include <genius/helpers/seeds.hpp>
#include <genius/helpers/whole_responses.hpp>
#include <genius/loss.hpp>
#include <genius/manifest.hpp>
#include <genius/model_backend.hpp>
#include <genius/plugin.hpp>
#include <genius/registration.hpp>
#include <genius/sampler.hpp>
#include <genius/types.hpp>
#include <genius/value_estimator.hpp>
