# genius_c_library(NAME MODULE HEADER LIBRARY): an imported target
# Genius::NAME for a C library, found through pkg-config (MODULE) or, where
# there is no pkg-config or GENIUS_NO_PKG_CONFIG is ON (a dependency bundle,
# scripts/make-device-bundle.sh), by its HEADER and LIBRARY names along
# CMAKE_PREFIX_PATH and the system paths.
option(GENIUS_NO_PKG_CONFIG "Find PCRE2 and utf8proc without pkg-config (a dependency bundle)" OFF)

function(genius_c_library name module header library)
  if(TARGET Genius::${name})
    return()
  endif()
  if(NOT GENIUS_NO_PKG_CONFIG)
    find_package(PkgConfig QUIET)
    if(PKG_CONFIG_FOUND)
      pkg_check_modules(${name} QUIET IMPORTED_TARGET GLOBAL ${module})
    endif()
  endif()
  add_library(Genius::${name} INTERFACE IMPORTED GLOBAL)
  if(${name}_FOUND)
    target_link_libraries(Genius::${name} INTERFACE PkgConfig::${name})
    return()
  endif()
  find_path(GENIUS_${name}_INCLUDE_DIR ${header})
  find_library(GENIUS_${name}_LIBRARY ${library})
  if(NOT GENIUS_${name}_INCLUDE_DIR OR NOT GENIUS_${name}_LIBRARY)
    message(FATAL_ERROR "${module} not found (header ${header}, library ${library}): install its -dev package, "
                        "or add the prefix that holds it to CMAKE_PREFIX_PATH")
  endif()
  target_include_directories(Genius::${name} INTERFACE ${GENIUS_${name}_INCLUDE_DIR})
  target_link_libraries(Genius::${name} INTERFACE ${GENIUS_${name}_LIBRARY})
endfunction()
