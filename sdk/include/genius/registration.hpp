// genius/registration.hpp — export a plugin class from a shared library.
//
// In exactly one .cpp of the library:
//
//     class HingeLoss : public genius::Loss {
//      public:
//       static const genius::PluginManifest& manifest();   // kind, name, keys
//       explicit HingeLoss(const genius::ConfigView& cfg);  // reads its keys
//       ...
//     };
//     GENIUS_REGISTER_PLUGIN(HingeLoss)
//
// The macro exports four Boost.DLL aliases that the host looks up by name:
//   genius_plugin_abi           GeniusPluginAbi const*()   — checked first, plain C
//   genius_plugin_manifest      PluginManifest const&()    — read without creating
//   genius_plugin_create        unique_ptr<Plugin>(const ConfigView&)
//   genius_plugin_create_model  void(const ConfigView&, uint64_t, const path&)
// One library exports exactly one plugin.
//
// A backend that can make new models defines
//
//     static void create_model(const genius::ConfigView& model_keys, std::uint64_t seed,
//                              const std::filesystem::path& out);
//
// which writes a complete model directory (weights from `seed`) that its
// constructor can load; its manifest declares the keys after
// `.model_creation()`. `genius init-model` and `genius pretrain` call it with
// those keys validated. Without it the export throws PluginError.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <type_traits>

#include <boost/dll/alias.hpp>

#include <genius/abi.hpp>
#include <genius/config.hpp>
#include <genius/manifest.hpp>
#include <genius/plugin.hpp>

namespace genius::detail {

using AbiFn = const GeniusPluginAbi*();
using ManifestFn = const PluginManifest&();
using CreateFn = std::unique_ptr<Plugin>(const ConfigView&);
using CreateModelFn = void(const ConfigView&, std::uint64_t, const std::filesystem::path&);

template <class T, class = void>
struct HasCreateModel : std::false_type {};
template <class T>
struct HasCreateModel<T, std::void_t<decltype(T::create_model(std::declval<const ConfigView&>(), std::uint64_t{},
                                                              std::declval<const std::filesystem::path&>()))>>
    : std::true_type {};

template <class T>
void create_model(const ConfigView& keys, std::uint64_t seed, const std::filesystem::path& out) {
  if constexpr (HasCreateModel<T>::value) {
    T::create_model(keys, seed, out);
  } else {
    throw PluginError(T::manifest().name, "this plugin does not create new models");
  }
}

template <class T>
std::unique_ptr<Plugin> create_plugin(const ConfigView& config) {
  static_assert(std::is_base_of_v<Plugin, T>, "a plugin class derives from a genius interface");
  static_assert(std::is_constructible_v<T, const ConfigView&>,
                "a plugin class is constructible from const genius::ConfigView&");
  auto plugin = std::make_unique<T>(config);
  if (plugin->kind() != T::manifest().kind)
    throw PluginError(T::manifest().name, std::string("manifest declares kind '") + to_string(T::manifest().kind) +
                                              "' but the class implements '" + to_string(plugin->kind()) + "'");
  PluginAccess::set_name(*plugin, T::manifest().name);
  return plugin;
}

}  // namespace genius::detail

#define GENIUS_REGISTER_PLUGIN(PluginClass)                                                                   \
  namespace genius_plugin_exports {                                                                           \
  const GeniusPluginAbi* abi() {                                                                              \
    return &::genius::this_build_abi();                                                                       \
  }                                                                                                           \
  const ::genius::PluginManifest& manifest() {                                                                \
    return PluginClass::manifest();                                                                           \
  }                                                                                                           \
  std::unique_ptr<::genius::Plugin> create(const ::genius::ConfigView& config) {                              \
    return ::genius::detail::create_plugin<PluginClass>(config);                                              \
  }                                                                                                           \
  void create_model(const ::genius::ConfigView& keys, std::uint64_t seed, const std::filesystem::path& out) { \
    ::genius::detail::create_model<PluginClass>(keys, seed, out);                                             \
  }                                                                                                           \
  }                                                                                                           \
  BOOST_DLL_ALIAS(genius_plugin_exports::abi, genius_plugin_abi)                                              \
  BOOST_DLL_ALIAS(genius_plugin_exports::manifest, genius_plugin_manifest)                                    \
  BOOST_DLL_ALIAS(genius_plugin_exports::create, genius_plugin_create)                                        \
  BOOST_DLL_ALIAS(genius_plugin_exports::create_model, genius_plugin_create_model)
