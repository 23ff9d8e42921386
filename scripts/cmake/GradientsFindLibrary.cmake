# gradients_find_library(NAME PKG_MODULE HEADER LIBRARY_NAMES...)
# Defines the imported target NAME::NAME: through pkg-config where it is installed (Debian), else by
# searching CMAKE_PREFIX_PATH for the header and the library (a GPU machine with the Debian packages
# unpacked beside the tree and no pkg-config). Fails the configuration when neither finds it.
function(gradients_find_library name pkg_module header)
  set(library_names ${ARGN})
  find_package(PkgConfig QUIET)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(PC_${name} QUIET ${pkg_module})
  endif()
  find_path(${name}_INCLUDE_DIR ${header} HINTS ${PC_${name}_INCLUDE_DIRS})
  find_library(${name}_LIBRARY NAMES ${library_names} HINTS ${PC_${name}_LIBRARY_DIRS})
  if(NOT ${name}_INCLUDE_DIR OR NOT ${name}_LIBRARY)
    message(FATAL_ERROR "${name} not found (${header}, lib${library_names}): run scripts/install-deps.sh")
  endif()
  if(NOT TARGET ${name}::${name})
    add_library(${name}::${name} UNKNOWN IMPORTED GLOBAL)
    set_target_properties(${name}::${name} PROPERTIES
      IMPORTED_LOCATION ${${name}_LIBRARY}
      INTERFACE_INCLUDE_DIRECTORIES ${${name}_INCLUDE_DIR})
  endif()
endfunction()
