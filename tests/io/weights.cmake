# Weight files (safetensors, the index over a component's files) and the
# diffusers model folder. Fixtures: tools/reference/make_model_fixtures.py.
ldm_c_test(test_safetensors SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_safetensors.c
           LIBS ldm_io LABELS unit)
ldm_c_test(test_weights SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_weights.c
           LIBS ldm_io LABELS unit golden)
ldm_c_test(test_model_folder SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_model_folder.c
           LIBS ldm_io LABELS unit)
# The .bin half of the loader test needs the PyTorch reader (io/torch_bin.c).
if(EXISTS ${PROJECT_SOURCE_DIR}/io/torch_bin.c)
  ldm_c_test(test_weights_bin SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_weights_bin.c
             LIBS ldm_io LABELS unit golden)
endif()
