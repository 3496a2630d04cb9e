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
