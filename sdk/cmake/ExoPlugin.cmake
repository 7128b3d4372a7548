# exo_add_plugin(<name> <sources>...)
# Builds <name>.so, a node plugin loadable by exo-host.  Works in-tree (target exo_sdk)
# and out of tree after find_package(exo-sdk).
include(GNUInstallDirs)

function(exo_add_plugin name)
  add_library(${name} MODULE ${ARGN})
  set_target_properties(${name} PROPERTIES PREFIX "" SUFFIX ".so"
                        C_VISIBILITY_PRESET hidden)
  if(TARGET exo_sdk)
    target_link_libraries(${name} PRIVATE exo_sdk)
  elseif(TARGET exo::sdk)
    target_link_libraries(${name} PRIVATE exo::sdk)
  endif()
endfunction()

# exo_install_plugins(<target>...): installs plugins where exo-host's example
# configuration looks for them (<prefix>/lib/exo/plugins).
function(exo_install_plugins)
  install(TARGETS ${ARGN} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/exo/plugins)
endfunction()
