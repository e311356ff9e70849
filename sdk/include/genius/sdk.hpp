// genius/sdk.hpp — everything a plugin author needs, in one include.
//
//   abi.hpp              the binary contract (SDK ABI, libtorch, C++ ABI)
//   error.hpp            PluginError, ConfigError
//   config.hpp           ConfigView: the plugin's validated keys
//   manifest.hpp         PluginManifest: kind, name, version, keys
//   plugin.hpp           the Plugin base class
//   types.hpp            data crossing the interfaces (no torch)
//   loss.hpp             Loss interface
//   model_backend.hpp    ModelBackend interface
//   value_estimator.hpp  ValueEstimator interface
//   sampler.hpp          Sampler interface
//   atomic_file.hpp      write_file_atomic, read_file (crash-safe outputs)
//   answer.hpp           extract_boxed, AnswerExtractor, same_answer
//   pairs.hpp            step_pairs: records -> preference pairs (algorithm.md §3),
//                        with a RejectedRule (random / distinct / lowest)
//   registration.hpp     GENIUS_REGISTER_PLUGIN
//   preference_metrics.hpp  TRL-named reward metrics for losses (ATen; include it yourself)
#pragma once

#include <genius/abi.hpp>
#include <genius/answer.hpp>
#include <genius/atomic_file.hpp>
#include <genius/config.hpp>
#include <genius/error.hpp>
#include <genius/loss.hpp>
#include <genius/manifest.hpp>
#include <genius/model_backend.hpp>
#include <genius/pairs.hpp>
#include <genius/plugin.hpp>
#include <genius/registration.hpp>
#include <genius/sampler.hpp>
#include <genius/types.hpp>
#include <genius/value_estimator.hpp>
