# genius_add_plugin(<target> SOURCES <src>... [LIBRARIES <lib>...] [NO_INSTALL])
#
# Builds one Genius plugin as a loadable module (lib<target>.so) against
# Genius::sdk, with hidden symbol visibility so only the three exported
# aliases of GENIUS_REGISTER_PLUGIN are visible, and installs it into the
# plugin directory. In the Genius source tree the module lands in
# <build>/lib/genius/plugins, beside bin/genius, where the host finds it.
function(genius_add_plugin target)
  cmake_parse_arguments(ARG "NO_INSTALL" "" "SOURCES;LIBRARIES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "genius_add_plugin(${target}): SOURCES is required")
  endif()
  add_library(${target} MODULE ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE Genius::sdk ${ARG_LIBRARIES})
  if(TARGET genius_warnings)
    target_link_libraries(${target} PRIVATE genius_warnings)
  endif()
  set_target_properties(${target} PROPERTIES CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  if(DEFINED GENIUS_PLUGIN_OUTPUT_DIR)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${GENIUS_PLUGIN_OUTPUT_DIR}")
  endif()
  if(NOT ARG_NO_INSTALL)
    if(DEFINED GENIUS_PLUGIN_INSTALL_DIR AND NOT IS_ABSOLUTE "${GENIUS_PLUGIN_INSTALL_DIR}")
      install(TARGETS ${target} LIBRARY DESTINATION "${GENIUS_PLUGIN_INSTALL_DIR}")
    else()
      # Out of tree: install next to other user plugins (point GENIUS_PLUGIN_PATH here).
      install(TARGETS ${target} LIBRARY DESTINATION "lib/genius/plugins")
    endif()
  endif()
endfunction()
