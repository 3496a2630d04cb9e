# tests/models/unet.cmake: Transformer2DModel, the UNet blocks and
# UNet2DConditionModel against diffusers goldens
# (tools/reference/make_unet_goldens.py → tests/fixtures/unet, and the
# tiny-ldm UNet in tests/fixtures/tiny-ldm/unet).
foreach(t transformer2d unet_blocks unet)
  if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/test_${t}.c)
    ldm_c_test(test_models_${t} SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_${t}.c
               LIBS ldm_models LABELS unit golden)
  endif()
endforeach()
# The real-size check: skipped unless LDM_UNET_REAL_DIR names a directory
# made by make_unet_goldens.py --real (3.5 GB, not committed).
ldm_c_test(test_models_unet_real SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_unet_real.c
           LIBS ldm_models LABELS slow golden)

# tools/bench/bench_unet.c: one UNet forward at real size with synthetic
# weights (see the file); the test only checks that it runs on the tiny config.
add_executable(bench_unet ${PROJECT_SOURCE_DIR}/tools/bench/bench_unet.c)
target_link_libraries(bench_unet PRIVATE ldm_models)
target_compile_definitions(bench_unet PRIVATE LDM_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
add_test(NAME bench_unet_smoke
         COMMAND bench_unet ${LDM_FIXTURES}/tiny-ldm/unet/config.json 2 8 12 0 1)
set_tests_properties(bench_unet_smoke PROPERTIES LABELS unit)
