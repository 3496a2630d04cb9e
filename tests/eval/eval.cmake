# The ldm-shapes evaluator (issue #4): the rules of tools/train/evaluate.py
# in C, the ldm-eval program, and their tests.
#   ldm_eval      caption grammar, pixel analysis, scoring (core only)
#   ldm_eval_run  PNG files, captions files, generation through the pipeline
set(LDM_EVAL_DIR ${CMAKE_CURRENT_LIST_DIR})
add_library(ldm_eval STATIC ${LDM_EVAL_DIR}/shapes_eval.c ${LDM_EVAL_DIR}/shapes_analyse.c)
target_include_directories(ldm_eval PUBLIC ${LDM_EVAL_DIR})
target_link_libraries(ldm_eval PUBLIC ldm_core m)
add_library(ldm_eval_run STATIC ${LDM_EVAL_DIR}/eval_run.c)
target_link_libraries(ldm_eval_run PUBLIC ldm_eval ldm_sample ldm_io)

add_executable(ldm-eval ${LDM_EVAL_DIR}/ldm_eval.c)
target_link_libraries(ldm-eval PRIVATE ldm_eval_run ldm_kernels)
set_target_properties(ldm-eval PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})

# Exactness against evaluate.py (fixtures: tools/reference/make_eval_goldens.py).
ldm_c_test(test_eval SOURCES ${LDM_EVAL_DIR}/test_eval.c LIBS ldm_eval_run LABELS unit golden)
