# LDMBert (src/models/ldmbert*.c) against diffusers' LDMBertModel goldens from
# tools/reference/make_ldmbert_goldens.py (tests/fixtures/ldmbert) and the tiny
# pipeline's text encoder (tests/fixtures/tiny-ldm/bert).
ldm_c_test(test_ldmbert SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ldmbert.c
           LIBS ldm_models LABELS unit golden)
