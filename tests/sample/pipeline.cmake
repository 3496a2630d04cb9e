ldm_c_test(test_pipeline SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_pipeline.c
           LIBS ldm_sample LABELS golden)
# The same comparison on the shipped model (goldens: make_pipeline_goldens.py --shipped).
add_test(NAME test_shipped_parity
         COMMAND test_pipeline shipped-parity ${PROJECT_SOURCE_DIR}/models/ldm-shapes)
set_tests_properties(test_shipped_parity PROPERTIES LABELS golden ENVIRONMENT "OMP_NUM_THREADS=1")
# Runs only with LDM_REAL_MODEL=/path/to/ldm-text2im-large-256 (else skipped).
ldm_c_test(test_real_model SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_real_model.c
           LIBS ldm_sample LABELS golden slow)
