# State-dict lists by class (src/models/model_specs.c), used by `ldm init`.
ldm_c_test(test_model_specs SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_model_specs.c
           LIBS ldm_models LABELS unit golden)
