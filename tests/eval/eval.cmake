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
# Defaults: the model shipped in the source tree and evaluate.py's held-out captions.
target_compile_definitions(ldm-eval PRIVATE LDM_EVAL_MODEL="${PROJECT_SOURCE_DIR}/models/ldm-shapes"
                           LDM_EVAL_CAPTIONS="${LDM_FIXTURES}/eval/heldout_captions.txt")
set_target_properties(ldm-eval PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})

# Exactness against evaluate.py (fixtures: tools/reference/make_eval_goldens.py).
ldm_c_test(test_eval SOURCES ${LDM_EVAL_DIR}/test_eval.c LIBS ldm_eval_run LABELS unit golden)

# Batched generation = one single-seed run per image, judged as such (tiny model).
ldm_c_test(test_eval_generate SOURCES ${LDM_EVAL_DIR}/test_eval_generate.c LIBS ldm_eval_run LABELS unit)

# The shipped model's quality: skipped (77) unless models/ldm-shapes/ exists.
ldm_c_test(test_model_quality SOURCES ${LDM_EVAL_DIR}/test_model_quality.c LIBS ldm_eval_run ldm_kernels
           LABELS slow)
set_tests_properties(test_model_quality PROPERTIES TIMEOUT 600)
# The same program on the tiny model with settings files from
# tests/fixtures/eval/thresholds/: it passes at 0, fails at an impossible
# minimum, and rejects bad settings with a message naming file and key.
set(LDM_EVAL_T ${LDM_FIXTURES}/eval/thresholds)
function(ldm_eval_quality_case name thresholds)
  add_test(NAME ${name} COMMAND ${ARGN} $<TARGET_FILE:test_model_quality>)
  set_tests_properties(${name} PROPERTIES LABELS unit ENVIRONMENT
    "OMP_NUM_THREADS=1;LDM_SHAPES_MODEL=${LDM_FIXTURES}/tiny-ldm;LDM_SHAPES_THRESHOLDS=${LDM_EVAL_T}/${thresholds}")
endfunction()
ldm_eval_quality_case(test_model_quality_tiny_pass tiny_pass.json)
ldm_eval_quality_case(test_model_quality_tiny_fail tiny_fail.json
  ${PROJECT_SOURCE_DIR}/tests/expect.sh 1 "count accuracy 0.000 < 1.000" --)
ldm_eval_quality_case(test_model_quality_bad_attr bad_attr.json
  ${PROJECT_SOURCE_DIR}/tests/expect.sh 1 "bad_attr.json: \"min_accuracy\": unknown attribute \"colours\"" --)
ldm_eval_quality_case(test_model_quality_bad_value bad_value.json
  ${PROJECT_SOURCE_DIR}/tests/expect.sh 1 "bad_value.json: \"min_accuracy\".\"shape\" must be a number from 0 to 1" --)
ldm_eval_quality_case(test_model_quality_bad_type bad_type.json
  ${PROJECT_SOURCE_DIR}/tests/expect.sh 1 "bad_type.json" --)

# ldm-eval: scoring the fixtures, generating + re-scoring, and bad input.
set(LDM_EVAL_TMP ${CMAKE_CURRENT_BINARY_DIR}/eval-tmp)
file(MAKE_DIRECTORY ${LDM_EVAL_TMP})
add_test(NAME eval_cli_score COMMAND $<TARGET_FILE:ldm-eval> score ${LDM_FIXTURES}/eval)
set_tests_properties(eval_cli_score PROPERTIES LABELS cli
  PASS_REGULAR_EXPRESSION "50_fill_thresholds.png background=1 colour=1 shape=0 count=0 placement=-.*\\| - \\| all \\| [0-9]+ \\| [0-9.]+% \\|")
add_test(NAME eval_cli_generate_roundtrip
         COMMAND ${LDM_EVAL_DIR}/generate_roundtrip.sh $<TARGET_FILE:ldm-eval> ${LDM_FIXTURES} ${LDM_EVAL_TMP}/roundtrip)
set_tests_properties(eval_cli_generate_roundtrip PROPERTIES LABELS cli ENVIRONMENT "OMP_NUM_THREADS=1")
function(ldm_eval_cli_error name needle)
  add_test(NAME ${name} COMMAND ${PROJECT_SOURCE_DIR}/tests/expect.sh 1 "${needle}" -- $<TARGET_FILE:ldm-eval> ${ARGN})
  set_tests_properties(${name} PROPERTIES LABELS cli ENVIRONMENT "OMP_NUM_THREADS=1")
endfunction()
ldm_eval_cli_error(eval_cli_no_command "usage: ldm-eval")
ldm_eval_cli_error(eval_cli_unknown_command "unknown command \"judge\"" judge)
ldm_eval_cli_error(eval_cli_missing_png "/nonexistent/x.png" score /nonexistent/x.png)
ldm_eval_cli_error(eval_cli_no_files "score: no PNG files given" score --quiet)
ldm_eval_cli_error(eval_cli_empty_dir "no .png files" score ${LDM_FIXTURES}/eval/thresholds)
ldm_eval_cli_error(eval_cli_captions_missing "--captions: /nonexistent/caps.txt"
                   generate --model ${LDM_FIXTURES}/tiny-ldm --captions /nonexistent/caps.txt)
ldm_eval_cli_error(eval_cli_bad_seed_list "--seed-list: expected integers from 0 separated by commas, got \"1,-2\""
                   generate --model ${LDM_FIXTURES}/tiny-ldm --seed-list 1,-2)
ldm_eval_cli_error(eval_cli_bad_guidance "--guidance: expected numbers from 0 to 100 separated by commas, got \"5,x\""
                   generate --model ${LDM_FIXTURES}/tiny-ldm --captions x.txt --guidance 5,x)
ldm_eval_cli_error(eval_cli_bad_seeds "--seeds: expected an integer from 1 to 1024, got \"0\""
                   generate --model ${LDM_FIXTURES}/tiny-ldm --captions x.txt --seeds 0)
ldm_eval_cli_error(eval_cli_bad_caption_file "--captions: ${LDM_FIXTURES}/eval/thresholds/tiny_pass.json:1: caption"
                   generate --model ${LDM_FIXTURES}/tiny-ldm --captions ${LDM_FIXTURES}/eval/thresholds/tiny_pass.json)
ldm_eval_cli_error(eval_cli_bad_model "/nonexistent/model"
                   generate --model /nonexistent/model --captions ${LDM_FIXTURES}/eval/heldout_captions.txt)
ldm_eval_cli_error(eval_cli_save_missing "--save: /nonexistent/dir is not a directory"
                   generate --model ${LDM_FIXTURES}/tiny-ldm --captions x.txt --save /nonexistent/dir)

# Caption grammar and pixel analysis on arbitrary bytes (seed corpus: tests/eval/corpus).
ldm_fuzz_target(fuzz_eval SOURCE ${LDM_EVAL_DIR}/fuzz_eval.c LIBS ldm_eval CORPUS ${LDM_EVAL_DIR}/corpus)
