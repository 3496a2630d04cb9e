ldm_c_test(test_pipeline SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_pipeline.c
           LIBS ldm_sample LABELS golden)
# Runs only with LDM_REAL_MODEL=/path/to/ldm-text2im-large-256 (else skipped).
ldm_c_test(test_real_model SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_real_model.c
           LIBS ldm_sample LABELS golden slow)
