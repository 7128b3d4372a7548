# exosm_core: the state manager's pure modules (no HTTP, no database), shared by
# exo-state-manager and the unit tests.  Included from
# state-manager/CMakeLists.txt (and from tests/unit when that did not happen).
set(EXOSM_CORE_DIR ${CMAKE_CURRENT_LIST_DIR})
add_library(exosm_core STATIC
  ${EXOSM_CORE_DIR}/reqcheck.c
  ${EXOSM_CORE_DIR}/json_guard.c
  ${EXOSM_CORE_DIR}/template.c
  ${EXOSM_CORE_DIR}/retry.c
  ${EXOSM_CORE_DIR}/secrets_crypto.c
  ${EXOSM_CORE_DIR}/graph.c
  ${EXOSM_CORE_DIR}/cron.c)
target_include_directories(exosm_core PUBLIC ${EXOSM_CORE_DIR})
target_link_libraries(exosm_core PUBLIC exocommon PkgConfig::JSONC PkgConfig::CRYPTO m)
