# find_package(exo-sdk) support for out-of-tree plugins.
get_filename_component(_exo_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
if(NOT TARGET exo::sdk)
  add_library(exo::sdk INTERFACE IMPORTED)
  set_target_properties(exo::sdk PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${_exo_prefix}/include")
endif()
include("${CMAKE_CURRENT_LIST_DIR}/ExoPlugin.cmake")
