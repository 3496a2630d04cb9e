ldm_c_test(test_pipeline SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_pipeline.c
           LIBS ldm_sample LABELS golden)
